"""openmaker: a self-hosted machine-learning platform that runs offline.

Importing the package is cheap: each room imports its heavy dependencies
when it is used, not here.
"""

__version__ = "0.1.0"
