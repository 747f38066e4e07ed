"""Store mode under concurrency, through real gunicorn."""
