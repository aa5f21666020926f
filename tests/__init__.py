"""openmaker's test suite (a package, so that ``tests.<room>.conftest`` resolves here first)."""
