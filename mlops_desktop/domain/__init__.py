"""Pure values and functions: no I/O, no SQL, no Qt."""
