"""A headless Chromium driven by selenium (Debian's chromium and chromium-driver), for dashboard
tests and the benchmark; selenium is imported only when one is started."""

from __future__ import annotations

import shutil
from typing import Any

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


def headless_chromium(window: str = "1400,1000") -> Any:
    """A new selenium Chrome session (``quit()`` it); RuntimeError when chromium-driver is missing."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    if not shutil.which(CHROMEDRIVER):
        raise RuntimeError("chromium-driver is not installed (make test installs it)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", f"--window-size={window}"):
        options.add_argument(argument)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
