"""Built-in tasks, one module per task, each registered through an entry point."""
