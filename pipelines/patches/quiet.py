"""Silences third-party noise. Call configure_environment() before anything imports
TensorFlow: most of the noise is decided at import time, and Beam workers inherit the
environment variables set here."""
from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import warnings

NOISY_LOGGERS = ("tensorflow", "absl", "apache_beam", "mlflow", "alembic", "urllib3",
                 "h5py", "tfx", "py.warnings")


def configure_environment() -> None:
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # TFT/TFMA need Keras 2
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # cuDNN/cuFFT/TRT registration
    os.environ.setdefault("PYTHONWARNINGS", "ignore::FutureWarning,ignore::DeprecationWarning")
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "ERROR")
    # MLflow 3 reports usage to its telemetry service unless told not to: a governance
    # tool calls out only where the user asked it to.
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=UserWarning)
    sys.unraisablehook = _drop_teardown_noise


def _drop_teardown_noise(unraisable) -> None:
    """TF's AtomicFunction.__del__ raises TypeErrors at interpreter exit; harmless."""
    if "AtomicFunction" in repr(getattr(unraisable, "object", "")):
        return
    sys.__unraisablehook__(unraisable)


def quiet_loggers() -> None:
    """Third-party loggers show errors only; sluice's own lines stay. Call again after
    importing the stack: some libraries reset levels and warning filters on import."""
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=UserWarning)
    logging.getLogger().setLevel(logging.WARNING)
    logging.getLogger("sluice").setLevel(logging.INFO)
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    absl_logger = logging.getLogger("absl")
    if _drop_execution_failed not in absl_logger.filters:
        absl_logger.addFilter(_drop_execution_failed)
    try:
        import absl.logging

        absl.logging.set_verbosity(absl.logging.ERROR)
        absl.logging.get_absl_handler().setLevel(logging.ERROR)
    except ImportError:
        pass


def _drop_execution_failed(record: logging.LogRecord) -> bool:
    """TFX's launcher logs "Execution 79 failed." before it re-raises the step's error,
    which sluice then reports in full (a gate's message, a traceback's file): the
    bare line only stood in front of the message the user needs."""
    return record.msg != "Execution %d failed."


@contextlib.contextmanager
def prints_silenced():
    """For calls into libraries that print or warn instead of logging: MLflow prints
    "Successfully registered model ..." to stderr and warns that predict() has no type
    hints; neither helps the reader of sluice's log, which says what was registered."""
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        yield
