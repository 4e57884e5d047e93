"""Settings for the load benchmark (`make bench-load`, bench/load/) and nothing else.

The product's settings, read from the environment as always, plus what the benchmark needs
beside the product: a bare INSERT view to measure filing against and a header giving each
request's time inside the worker (config/bench_urls.py). The product never loads this module.
"""

from config.settings import *  # noqa: F403
from config.settings import MIDDLEWARE

ROOT_URLCONF = "config.bench_urls"
# Outermost, so that the time it reports covers every middleware as well as the view.
MIDDLEWARE = ["config.bench_urls.ServerTimingMiddleware", *MIDDLEWARE]
