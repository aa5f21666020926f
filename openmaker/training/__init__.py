"""Training jobs in SageMaker's script mode, built-in algorithms and batch transform.

The public Python API of the room; the CLI (``openmaker train``, ``openmaker
jobs``, ``openmaker transform``) is a thin layer over it.
"""
