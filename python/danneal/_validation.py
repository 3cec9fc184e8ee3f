"""Input validation shared by the public API.  Every error names the parameter and its value."""

from __future__ import annotations

import numbers

import numpy as np

FLOAT_DTYPES = (np.float64, np.float32)
INT64_MAX = 2**63 - 1


def as_float_array(
    x,
    name: str,
    *,
    ndim: int | None = None,
    dtype=None,
    allow_empty: bool = False,
    finite: bool = True,
    copy: bool = False,
) -> np.ndarray:
    """Return ``x`` as a C-contiguous float32/float64 array (integers and bools become float64).

    Never modifies the caller's array: a copy is made whenever conversion is needed, or when
    ``copy`` is true.  ``dtype`` forces a floating dtype.
    """
    if x is None:
        raise TypeError(f"{name}=None: expected an array")
    try:
        arr = np.asarray(x)
    except Exception as exc:  # pragma: no cover - exotic inputs
        raise TypeError(f"{name}: cannot be converted to an array ({exc})") from None
    if arr.dtype == object:
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"{name}: dtype=object could not be converted to float64 ({exc}); expected a float32 or float64 array"
            ) from None
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise TypeError(f"{name}: complex dtype {arr.dtype} is not supported; expected a float32 or float64 array")
    if dtype is not None:
        target = np.dtype(dtype)
    elif arr.dtype in (np.float32, np.float64):
        target = arr.dtype
    elif np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_ or np.issubdtype(arr.dtype, np.floating):
        target = np.dtype(np.float64)
    else:
        raise TypeError(f"{name}: unsupported dtype {arr.dtype} (use float32 or float64)")
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name}: expected a {ndim}-d array, got ndim={arr.ndim} with shape {arr.shape}")
    if not allow_empty and arr.size == 0:
        raise ValueError(f"{name}: empty array with shape {arr.shape}; expected at least one element")
    out = np.ascontiguousarray(arr, dtype=target)
    if copy and np.shares_memory(out, arr):
        out = out.copy()
    if finite and not np.isfinite(out).all():
        bad = np.argwhere(~np.isfinite(out))[0]
        raise ValueError(f"{name}: contains NaN or inf (first at index {tuple(int(i) for i in bad)})")
    return out


def check_dissimilarity(
    D,
    name: str = "D",
    *,
    dtype=None,
    check_symmetric: bool = True,
    check_diagonal: bool = True,
    allow_negative: bool = False,
    min_samples: int = 2,
) -> np.ndarray:
    """Validate a square dissimilarity matrix (symmetric, zero diagonal, non-negative, finite)."""
    D = as_float_array(D, name, ndim=2, dtype=dtype)
    n, m = D.shape
    if n != m:
        raise ValueError(f"{name}: dissimilarity matrix must be square, got shape {D.shape}")
    if n < min_samples:
        raise ValueError(f"{name}: need at least {min_samples} objects, got n={n}")
    # Checked in row blocks so that an n x n input needs no n x n temporaries.
    scale = 0.0
    block = max(1, (1 << 22) // max(n, 1))
    for i0 in range(0, n, block):
        rows = D[i0 : i0 + block]
        if not allow_negative and (rows < 0).any():
            i, j = np.argwhere(rows < 0)[0]
            i += i0
            raise ValueError(f"{name}: dissimilarities must be >= 0, got {name}[{i}, {j}]={float(D[i, j])!r}")
        scale = max(scale, float(np.abs(rows).max()))
    if check_diagonal:
        diag = np.diagonal(D)
        if (diag != 0).any():
            i = int(np.flatnonzero(diag != 0)[0])
            raise ValueError(f"{name}: diagonal must be zero, got {name}[{i}, {i}]={float(diag[i])!r}")
    if check_symmetric:
        tol = (1e-5 if D.dtype == np.float32 else 1e-10) * (scale or 1.0)
        for i0 in range(0, n, block):
            diff = np.abs(D[i0 : i0 + block] - D[:, i0 : i0 + block].T)
            if (diff > tol).any():
                i, j = np.unravel_index(int(np.argmax(diff)), diff.shape)
                i += i0
                raise ValueError(
                    f"{name}: must be symmetric, but {name}[{i}, {j}]={float(D[i, j])!r} != "
                    f"{name}[{j}, {i}]={float(D[j, i])!r}"
                )
    return D


def check_int(value, name: str, *, low=None, high=None) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}={value!r} must be an int")
    value = int(value)
    if low is not None and value < low:
        raise ValueError(f"{name}={value} must be >= {low}")
    if high is None and value > INT64_MAX:  # the compiled kernels take 64-bit integers
        raise ValueError(f"{name}={value} exceeds the largest supported integer 2**63 - 1 = {INT64_MAX}")
    if high is not None and value > high:
        raise ValueError(f"{name}={value} must be <= {high}")
    return value


def check_float(value, name: str, *, low=None, high=None, low_inclusive=True, high_inclusive=True) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}={value!r} must be a real number")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name}={value} must be finite")
    if low is not None and (value < low or (not low_inclusive and value == low)):
        op = ">=" if low_inclusive else ">"
        raise ValueError(f"{name}={value} must be {op} {low}")
    if high is not None and (value > high or (not high_inclusive and value == high)):
        op = "<=" if high_inclusive else "<"
        raise ValueError(f"{name}={value} must be {op} {high}")
    return value


def check_n_clusters(n_clusters, n_samples: int, name: str = "n_clusters") -> int:
    k = check_int(n_clusters, name, low=1)
    if k > n_samples:
        raise ValueError(f"{name}={k} must be <= n_samples={n_samples}")
    return k


def fmt(value) -> str:
    """One number style for every message: repr precision (``tol=-1e-07``, never ``-0.000000``)."""
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    return repr(value)


def check_random_state(seed, name: str = "random_state"):
    """scikit-learn's ``check_random_state`` with an error that names the parameter."""
    from sklearn.utils import check_random_state as _crs

    try:
        return _crs(seed)
    except (ValueError, TypeError):
        raise ValueError(
            f"{name}={seed!r} must be None, an int in [0, 2**32 - 1] or a numpy.random.RandomState instance"
        ) from None


def _describe(arr) -> str:
    return "a scalar" if arr.ndim == 0 else f"shape {arr.shape}"


def precheck_X(X, name: str = "X", *, min_samples: int = 1, what: str = "(n_samples, n_features)"):
    """Checks of a 2-d data array whose errors name the parameter, its shape/dtype and what is
    expected (scikit-learn's own messages do not name the parameter).  Returns nothing; the
    caller converts with ``validate_data`` afterwards.  The phrases scikit-learn's estimator checks
    look for ("Reshape your data", "0 feature(s) (shape=...) while a minimum of 1 is required",
    "Complex data not supported", "NaN"/"inf") are kept."""
    if X is None:
        raise TypeError(f"{name}=None: expected an array of shape {what}")
    if hasattr(X, "toarray") or hasattr(X, "tocsr"):  # sparse: scikit-learn's message names X
        return
    try:
        arr = np.asarray(X)
    except Exception as exc:
        raise ValueError(f"{name}: cannot be converted to an array of shape {what} ({exc})") from None
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise ValueError(
            f"{name}: Complex data not supported, got dtype {arr.dtype}; expected a real array of shape {what}"
        )
    if arr.ndim != 2:
        hint = (
            (
                ". Reshape your data either using X.reshape(-1, 1) if your data has a single feature or "
                "X.reshape(1, -1) if it contains a single sample"
            )
            if arr.ndim == 1
            else ""
        )
        raise ValueError(f"{name}: expected a 2-d array of shape {what}, got {_describe(arr)}{hint}")
    n, d = arr.shape
    if n < min_samples:
        raise ValueError(
            f"{name}: got {n} sample(s) (shape={arr.shape}) while a minimum of {min_samples} is "
            f"required; expected shape {what}"
        )
    if d < 1:
        raise ValueError(
            f"{name}: got 0 feature(s) (shape={arr.shape}) while a minimum of 1 is required; expected shape {what}"
        )
    if arr.dtype.kind in "OUS":
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"{name}: dtype={arr.dtype} could not be converted to float64 ({exc}); expected "
                f"a numeric array of shape {what}"
            ) from None
    elif arr.dtype.kind not in "biuf":
        raise TypeError(f"{name}: unsupported dtype {arr.dtype}; expected a numeric array of shape {what}")
    if arr.dtype.kind in "fc" and not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise ValueError(
            f"{name}: contains NaN or inf (first at index {tuple(int(i) for i in bad)}: {float(arr[tuple(bad)])!r})"
        )


def validate_X(
    estimator,
    X,
    name: str = "X",
    *,
    reset: bool = True,
    min_samples: int = 1,
    what: str = "(n_samples, n_features)",
    **kwargs,
):
    """scikit-learn's ``validate_data`` (feature counts, feature names, dtype conversion) after
    :func:`precheck_X`; any error it still raises is prefixed with the parameter name."""
    from sklearn.utils.validation import validate_data

    precheck_X(X, name, min_samples=min_samples, what=what)
    try:
        return validate_data(
            estimator, X, reset=reset, ensure_min_samples=min_samples, ensure_all_finite=False, **kwargs
        )
    except (ValueError, TypeError) as exc:
        msg = str(exc)
        if msg.startswith(name + " ") or msg.startswith(name + ":"):
            raise
        raise type(exc)(f"{name}: {msg}") from None
