"""Deploy-time infrastructure: the resource template and the packaging step around Chalice."""
