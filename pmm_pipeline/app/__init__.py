"""The applications on top: the command line and `pmm run`."""
