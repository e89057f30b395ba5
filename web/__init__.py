"""The HTTP face of the CRM: pages, htmx fragments, the public API and the CLI."""
