"""hitlgov: governance and compliance for human-in-the-loop AI.

Plugins: ``from hitlgov import hookimpl`` (extension points: :mod:`hitlgov.hookspecs`).
"""
__version__ = "0.2.0"


def __getattr__(name: str):
    if name in ("hookimpl", "hookspec"):  # lazily: `import hitlgov` stays free of pluggy
        from hitlgov import hookspecs

        return getattr(hookspecs, name)
    raise AttributeError(f"module 'hitlgov' has no attribute {name!r}")
