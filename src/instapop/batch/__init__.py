"""Many profiles at once: ``run_batch`` studies each on Ray and writes the portfolio page.

Ray is imported only when a batch runs, so the rest of the package never pays for it.
"""

from instapop.batch.outcome import ProfileOutcome
from instapop.batch.portfolio import write_portfolio
from instapop.batch.profiles import BatchProfile, read_profiles
from instapop.batch.run import BatchResult, run_batch

__all__ = ["BatchProfile", "BatchResult", "ProfileOutcome", "read_profiles", "run_batch", "write_portfolio"]
