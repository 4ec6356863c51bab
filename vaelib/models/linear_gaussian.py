"""A latent-variable model in which every quantity is exact (chapter 4).

``z ~ N(0, I_d)``, ``x | z ~ N(W z + b, s2 I_D)``, with ``D`` the dimension of ``x`` and
``d`` the latent dimension (chapter 4's names). Then ``x ~ N(b, W W^T + s2 I)``,
the posterior p(z|x) is Gaussian, and for a Gaussian q(z) = N(m, S) the ELBO
and KL(q || p(z|x)) have closed forms. Chapter 4 uses it to check the identity
``log p(x) = ELBO(q) + KL(q(z|x) || p(z|x))`` to float precision. NumPy, float64.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from vaelib import validation

__all__ = ["LinearGaussian", "kl_gaussians"]

LOG_2PI = np.log(2 * np.pi)


def kl_gaussians(m0: np.ndarray, s0: np.ndarray, m1: np.ndarray, s1: np.ndarray) -> np.ndarray:
    """``KL(N(m0, s0) || N(m1, s1))`` for full covariances.

    Args:
      m0, m1: means ``[n, d]`` (or ``[d]``).
      s0, s1: covariances ``[d, d]``, shared by all rows.

    Returns:
      ``[n]`` (or a scalar), nats.
    """
    latent_size = s0.shape[-1]
    s1_inv = np.linalg.inv(s1)
    diff = np.asarray(m1) - np.asarray(m0)
    mahalanobis = np.einsum("...i,ij,...j->...", diff, s1_inv, diff)
    _, logdet0 = np.linalg.slogdet(s0)
    _, logdet1 = np.linalg.slogdet(s1)
    return 0.5 * (np.trace(s1_inv @ s0) + mahalanobis - latent_size + logdet1 - logdet0)


@dataclasses.dataclass(frozen=True)
class LinearGaussian:
    """The model ``z ~ N(0, I)``, ``x | z ~ N(w z + b, noise_var I)``.

    Attributes:
      w: ``[D, d]`` loading matrix (data dimension ``D``, latent dimension ``d``).
      b: ``[D]`` offset.
      noise_var: observation noise variance, positive.
    """

    w: np.ndarray
    b: np.ndarray
    noise_var: float

    def __post_init__(self):
        object.__setattr__(self, "w", np.asarray(self.w, dtype=np.float64))  # lists are fine
        object.__setattr__(self, "b", np.asarray(self.b, dtype=np.float64))
        if self.w.ndim != 2 or self.b.shape != (self.w.shape[0],):
            raise ValueError(f"w must be [D, d] and b [D]; got {self.w.shape} and {self.b.shape}")
        if not (np.isfinite(self.w).all() and np.isfinite(self.b).all()):
            raise ValueError("w and b must be finite (no NaN or infinity)")
        object.__setattr__(
            self, "noise_var", validation.real("noise_var", self.noise_var, positive=True)
        )

    @classmethod
    def random(
        cls, data_size: int, latent_size: int, noise_var: float = 0.5, seed: int = 0
    ) -> "LinearGaussian":
        data_size = validation.positive_int("data_size", data_size)
        latent_size = validation.positive_int("latent_size", latent_size)
        rng = np.random.default_rng(validation.integer("seed", seed, minimum=0))
        return cls(rng.normal(size=(data_size, latent_size)), rng.normal(size=data_size), noise_var)

    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        """``n`` draws of ``x``, ``[n, D]``."""
        n = validation.positive_int("n", n)
        rng = np.random.default_rng(validation.integer("seed", seed, minimum=0))
        z = rng.normal(size=(n, self.w.shape[1]))
        return z @ self.w.T + self.b + np.sqrt(self.noise_var) * rng.normal(size=(n, len(self.b)))

    def _check_x(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != len(self.b):
            raise ValueError(f"x must have shape [n, {len(self.b)}], got {x.shape}")
        return x

    def log_px(self, x: np.ndarray) -> np.ndarray:
        """Exact ``log p(x) = log N(x; b, W W^T + s2 I)``, ``[n]``."""
        x = self._check_x(x)
        data_size = len(self.b)
        cov = self.w @ self.w.T + self.noise_var * np.eye(data_size)
        _, logdet = np.linalg.slogdet(cov)
        diff = x - self.b
        return -0.5 * (
            data_size * LOG_2PI + logdet + np.einsum("ni,ij,nj->n", diff, np.linalg.inv(cov), diff)
        )

    def posterior(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Exact ``p(z|x) = N(mean, cov)``: ``mean`` ``[n, d]``, ``cov`` ``[d, d]``."""
        x = self._check_x(x)
        latent_size = self.w.shape[1]
        cov = np.linalg.inv(np.eye(latent_size) + self.w.T @ self.w / self.noise_var)
        mean = (x - self.b) @ self.w @ cov / self.noise_var  # cov is symmetric
        return mean, cov

    def elbo(self, x: np.ndarray, q_mean: np.ndarray, q_cov: np.ndarray) -> np.ndarray:
        """Closed-form ELBO of ``q(z) = N(q_mean, q_cov)``, ``[n]``:

        ``E_q[log p(x|z)] + E_q[log p(z)] + H[q]``.
        """
        data_size, latent_size = self.w.shape
        residual = x - self.b - q_mean @ self.w.T
        expected_log_px_z = -0.5 * (
            data_size * np.log(2 * np.pi * self.noise_var)
            + (np.sum(residual**2, -1) + np.trace(self.w @ q_cov @ self.w.T)) / self.noise_var
        )
        expected_log_pz = -0.5 * (latent_size * LOG_2PI + np.sum(q_mean**2, -1) + np.trace(q_cov))
        entropy = 0.5 * (latent_size * (LOG_2PI + 1) + np.linalg.slogdet(q_cov)[1])
        return expected_log_px_z + expected_log_pz + entropy

    def kl_to_posterior(self, x: np.ndarray, q_mean: np.ndarray, q_cov: np.ndarray) -> np.ndarray:
        """``KL(q(z) || p(z|x))``, ``[n]``."""
        mean, cov = self.posterior(x)
        return kl_gaussians(q_mean, q_cov, mean, cov)
