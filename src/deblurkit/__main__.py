"""``python -m deblurkit`` is the ``deblurkit`` command."""

from deblurkit.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
