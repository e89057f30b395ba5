"""The MegaFon virtual PBX: its webhook protocol, call notifications, and (later) its API."""
