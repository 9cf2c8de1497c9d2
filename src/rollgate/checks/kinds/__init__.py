"""The built-in check kinds, one module each; every module here is registered on load."""
