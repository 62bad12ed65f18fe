"""The plugin contract: hook specifications, component interfaces, data formats, plugin loading."""
