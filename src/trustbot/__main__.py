from __future__ import annotations

from trustbot.cli import main

if __name__ == "__main__":
    main()
