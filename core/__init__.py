"""Domain logic of the CRM: free of web concerns, driven from HTTP, the CLI or tests alike."""
