"""Platform YAML files (data only; a package so that setup.py installs them)."""
