#pragma once
/// \file dsa.hpp
/// Dynamical Similarity Analysis (Ostrow et al., NeurIPS 2023): fit a linear operator to the
/// delay-embedded, SVD-whitened dynamics of each system (Hankel DMD), then compare operators by
/// Procrustes analysis over vector fields, min over orthogonal C of ‖Â − C B̂ Cᵀ‖ on
/// Frobenius-normalised operators, or by the 2-Wasserstein distance between eigenvalue sets.
/// Spec: shared/specs/dsa.md. Defaults of the reference package `dsa-metric` per entry point are
/// listed next to each option.

#include <dynx/batch.hpp>
#include <dynx/context.hpp>
#include <dynx/export.hpp>
#include <dynx/types.hpp>

#include <atomic>
#include <complex>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace dynx {

// ------------------------------------------------------------------------------------------------
// Data

/// One system's recordings: trials of `n_features` features, trial k a column-major
/// n_features × lengths[k] block (the features of one time step contiguous), trials stored back
/// to back from `data`. A row-major NumPy array of shape (T, N) or (K, T, N) is exactly this
/// layout. Trials may differ in length (ragged); regression pairs never cross a trial boundary.
/// `data` lives on `device` (the host, or the device of the context that fits it).
template <class T>
struct TrialSet {
  const T* data = nullptr;
  std::int64_t n_features = 0;
  std::vector<std::int64_t> lengths;
  Device device = Device::cpu();

  /// One trajectory of `length` time steps.
  static TrialSet single(const T* data, std::int64_t length, std::int64_t n_features,
                         Device device = Device::cpu()) {
    return TrialSet{data, n_features, {length}, device};
  }
  /// `trials` trials of equal `length` (a (K, T, N) array).
  static TrialSet equal_trials(const T* data, std::int64_t trials, std::int64_t length,
                               std::int64_t n_features, Device device = Device::cpu()) {
    return TrialSet{data, n_features, std::vector<std::int64_t>(static_cast<std::size_t>(trials), length),
                    device};
  }
  /// Σ lengths.
  std::int64_t total_length() const noexcept {
    std::int64_t t = 0;
    for (auto l : lengths) t += l;
    return t;
  }
};

// ------------------------------------------------------------------------------------------------
// Fit: Hankel DMD (spec §3)

/// How the Hankel DMD rank r is chosen. At most one of `rank`, `rank_thresh`,
/// `rank_explained_variance` and `optimal_rank` may be set; none keeps every singular value above
/// the relative cutoff (the reference's default, r = k).
struct HankelDmdOptions {
  std::int64_t n_delays = 1;        ///< d ≥ 1 lag blocks (reference DMD default 1)
  std::int64_t delay_interval = 1;  ///< τ ≥ 1 samples between lags (rows still advance by one)
  std::optional<std::int64_t> rank;            ///< explicit r; capped at k with a warning
  std::optional<double> rank_thresh;           ///< r = #{σ_i > θ} (absolute), at least 1
  std::optional<double> rank_explained_variance;  ///< smallest r with Σ_{i≤r} σ² / Σ σ² ≥ p
  /// Gavish–Donoho optimal hard threshold for unknown noise (IEEE Trans. Inf. Theory 2014):
  /// r = #{σ_i > ω(β) · median σ}, β = min(R, D) / max(R, D).
  bool optimal_rank = false;
  /// Singular values with σ_i ≤ cutoff · σ_1 are dropped before any rule (they are rounding noise
  /// of an exactly rank-deficient Hankel matrix). Negative: 1e-12 in float64, 1e-6 in float32;
  /// 0 disables. The reference has no cutoff.
  double rel_sigma_cutoff = -1;
  /// Ridge λ, in whitened units (the regression inputs have unit-norm columns, so λ ~ 0.1–1
  /// shrinks every eigenvalue strongly). Reference: DMD class 1e-8, DMDConfig 0.
  double lambda = 1e-8;
  /// Reduced-rank regression (the rank rule applies to the eigenvalues of the RRR projector);
  /// the operator is then k × k of rank ≤ r.
  bool reduced_rank = false;
  std::int64_t steps_ahead = 1;  ///< s ≥ 1: regress v_{t+s} on v_t
  /// Hankel rows formed at once per system; memory is O(chunk_rows · N·d + (N·d)²) however long
  /// the recording. 0: automatic.
  std::int64_t chunk_rows = 0;
};

/// A fitted Hankel DMD model, on the host.
template <class T>
struct DmdModel {
  std::int64_t rank = 0;  ///< n: `a` is n × n (k × k with reduced_rank)
  /// The operator A_v, column-major, acting on column vectors: v_{t+s} ≈ A_v v_t in the top-r
  /// whitened eigen-time-delay coordinates (spec §3.5; with reduced_rank the forward map, i.e.
  /// the transpose of the reference's row-vector operator).
  std::vector<T> a;
  std::vector<T> singular_values;  ///< all k singular values of the Hankel matrix, descending
  std::int64_t embedding_dim = 0;   ///< D = N · n_delays
  std::int64_t hankel_rows = 0;     ///< R = Σ_k (T_k − (d−1)τ)
  std::int64_t regression_pairs = 0;  ///< M = Σ_k (T'_k − s)
  std::int64_t kept_singular_values = 0;  ///< k after the relative cutoff
  std::vector<std::string> warnings;  ///< rank capped, threshold above all σ, trials skipped, …
};

/// Fits one Hankel DMD model per system (spec §3). Systems may differ in features, lengths and
/// trial counts; systems with the same embedding dimension are fitted together in batched calls
/// on the context's device. Memory per system is independent of the recording length (streamed
/// QR of the Hankel matrix, then a second streamed pass for the regression). Synchronous.
/// Throws InvalidArgument naming the system and the reason: empty or ragged-N data, NaN/Inf
/// (with the trial and time step), too few time points for the delays, impossible options,
/// constant data (all singular values zero).
template <class T>
DYNX_API std::vector<DmdModel<T>> hankel_dmd_fit(Context& ctx,
                                                 const std::vector<TrialSet<T>>& systems,
                                                 const HankelDmdOptions& options = {});
/// As above with one options struct per system (the reference's per-system broadcasting).
template <class T>
DYNX_API std::vector<DmdModel<T>> hankel_dmd_fit(Context& ctx,
                                                 const std::vector<TrialSet<T>>& systems,
                                                 const std::vector<HankelDmdOptions>& options);

// ------------------------------------------------------------------------------------------------
// Fit with inputs: SubspaceDMDc (spec §7.2), the InputDSA model x' = A x + B u, y = C x

/// Options of subspace_dmdc_fit. Past and future windows are both `n_delays` long (p = f).
struct SubspaceDmdcOptions {
  std::int64_t n_delays = 1;  ///< p = f ≥ 1 (reference SubspaceDMDc and SubspaceDMDcConfig: 1)
  /// State dimension n ≤ n_delays · outputs; none: the smallest n whose singular values of the
  /// oblique projection hold `energy` of Σ σ² (the reference's rule).
  std::optional<std::int64_t> rank;
  double energy = 0.999;
  /// Ridge λ of the final regression [A B] = X⁺Zᵀ(ZZᵀ + λI)⁻¹, Z = [X; U] (reference class
  /// default 1e-8, SubspaceDMDcConfig 0).
  double lambda = 1e-8;
  /// Block-Hankel columns (time points) formed at once per system; memory is
  /// O(chunk_rows · D_H + D_H²) with D_H = n_delays · (2 · inputs + 2 · outputs), however long the
  /// recording. 0: automatic.
  std::int64_t chunk_rows = 0;
};

/// A fitted linear system with inputs, x' = A x + B u (and y = C x), on the host: what
/// subspace_dmdc_fit and dmdc_fit return and the InputDSA comparisons read (A and B only).
/// SubspaceDMDc: the basis of the oblique projection's left singular vectors (defined up to column
/// signs, so two fits of one system give (D A D, D B, C D)). DMDc: the basis of the leading left
/// singular vectors of the shifted delay-embedded data (C maps it back to the embedding).
template <class T>
struct ControlModel {
  std::int64_t rank = 0;     ///< n
  std::int64_t inputs = 0;   ///< m (DMDc: inputs · n_control_delays)
  std::int64_t outputs = 0;  ///< p_out (DMDc: the embedding dimension N · n_delays)
  std::vector<T> a;          ///< n × n, column-major
  std::vector<T> b;          ///< n × m
  std::vector<T> c;          ///< p_out × n
  /// SubspaceDMDc: singular values of the oblique projection O, descending
  /// (min(f·p_out, f·m + p·(m + p_out)) of them: O has no more nonzero ones). DMDc: singular
  /// values of the shifted data Y.
  std::vector<T> singular_values;
  std::int64_t trials_used = 0, trials_total = 0;  ///< trials too short for the windows are skipped
  std::int64_t columns = 0;           ///< SubspaceDMDc: T_tot = Σ (N_k − 2 n_delays); DMDc: Hankel rows
  std::int64_t regression_pairs = 0;  ///< pairs within trials (SubspaceDMDc: Σ (T_k − 1))
  std::vector<std::string> warnings;
};

/// Fits one SubspaceDMDc model per system (spec §7.2, the reference's 'n4sid' backend) from its
/// outputs `systems[i]` and inputs `inputs[i]` (the same trials and lengths). Long recordings
/// are streamed: a QR of the block-Hankel data [U_f; U_p; Y_p; Y_f]ᵀ chunk by chunk gives the LQ
/// factor L, the oblique projection O = L₃₂ L₂₂⁺ Z_p is never formed (its SVD is that of a small
/// matrix in L), and a second pass regresses the states x_j = K z_p(j) within trials. Systems
/// with the same outputs, inputs and n_delays share every batched call on the context's device.
/// Throws InvalidArgument naming the system and the reason.
template <class T>
DYNX_API std::vector<ControlModel<T>> subspace_dmdc_fit(
    Context& ctx, const std::vector<TrialSet<T>>& systems, const std::vector<TrialSet<T>>& inputs,
    const SubspaceDmdcOptions& options = {});

/// Options of dmdc_fit (spec §7.3: the reference's DMDc class, joint-SVD formulation).
struct DmdcOptions {
  std::int64_t n_delays = 1;        ///< d lags of the state (reference default 1)
  std::int64_t delay_interval = 1;  ///< τ
  /// c ≤ d lags of the input, the newest aligned with the newest state lag (reference default 1:
  /// u_t beside the state row that ends at t).
  std::int64_t n_control_delays = 1;
  std::optional<std::int64_t> rank_input;   ///< truncation of Ω = [X; U] (none: all)
  std::optional<std::int64_t> rank_output;  ///< truncation of Y: the state dimension n (none: all)
  double lambda = 1e-8;                     ///< Tikhonov inverse σ / (σ² + λ) (reference 1e-8)
  std::int64_t steps_ahead = 1;             ///< s: regress the row s steps later
  /// The reference forms (X, Y) on the rows of all trials concatenated, so each trial boundary
  /// adds a spurious pair (last row of a trial → first row of the next). dynx pairs within
  /// trials; true reproduces the reference.
  bool reference_cross_trial_pairs = false;
  std::int64_t chunk_rows = 0;  ///< rows formed at once per system (0: automatic)
};

/// Fits one DMDc model per system (Proctor et al. 2016, spec §7.3): Ω = [X; U] and Y = X shifted by
/// s steps from the delay-embedded outputs and the (embedded) inputs, A_full = Y V_p S̃ U_p1ᵀ,
/// B_full = Y V_p S̃ U_p2ᵀ, and the reduced A = U_rᵀ A_full U_r, B = U_rᵀ B_full in the leading left
/// singular vectors U_r of Y (returned as C). Streamed: one QR of the rows [x_t, u_t, x_{t+s}]
/// gives every factor. DMDc assumes full observation; for partially observed systems use
/// subspace_dmdc_fit (the InputDSA default). Batched over systems like the other fits.
template <class T>
DYNX_API std::vector<ControlModel<T>> dmdc_fit(Context& ctx, const std::vector<TrialSet<T>>& systems,
                                              const std::vector<TrialSet<T>>& inputs,
                                              const DmdcOptions& options = {});

// ------------------------------------------------------------------------------------------------
// Compare two operators (spec §4)

/// The minimiser of ‖Â − C B̂ Cᵀ‖ over orthogonal C.
enum class ProcrustesOptimizer {
  /// dynx default: closed-form candidates (eigenbases of sym(Â), ÂᵀÂ, ÂÂᵀ with a sign search,
  /// the best sign pattern of the identity, the identity, a reflection) and seeded random
  /// rotations, each refined by Riemannian L-BFGS on O(n) (Armijo line search, Cayley
  /// retraction), keeping the best. Finds every exact orthogonal conjugacy, including sign flips.
  riemannian_multistart,
  /// The published procedure: Adam on a skew-symmetric parameter S with C = (I+S)⁻¹(I−S), twice
  /// (aligning B̂ and P B̂ Pᵀ with P the swap of the first two coordinates), a fixed number of
  /// steps, the branch with the smaller last loss wins. dynx parameterises S = X − Xᵀ directly
  /// and starts at X = 0, where the reference passes X through a randomly initialised MLP.
  reference_like,
};

struct ProcrustesOptions {
  ProcrustesOptimizer optimizer = ProcrustesOptimizer::riemannian_multistart;
  /// Haar-random starts besides the closed-form candidates. The objective has many local minima
  /// for unrelated operators (n ≥ 16): more starts find lower ones, at a cost linear in starts.
  std::int64_t random_starts = 16;
  /// Successive halving: every start gets `probe_iters` iterations, the best 4·refine_top of each
  /// pair 2·probe_iters more, then the best `refine_top` run to convergence; the best one wins.
  /// A short probe ranks basins poorly: at equal cost, 16 starts probed for 16 iterations missed
  /// the best known minimum by > 1e-3 on 8 of 60 pairs at n = 32, 32 starts probed for 8 on 18.
  std::int64_t probe_iters = 16;
  std::int64_t refine_top = 3;
  /// Iteration cap per pair (all stages of its winning start). In float64 from n = 24 on, the
  /// search runs in float32 and its winners are polished in float64, each under this cap.
  std::int64_t max_iters = 1000;
  /// Convergence: ‖Riemannian gradient‖ ≤ grad_tol · ‖Â − C B̂ Cᵀ‖ (relative, so that exactly
  /// conjugate pairs are driven to rounding), or ‖Â − C B̂ Cᵀ‖² (computed directly) falling by
  /// less than 1e-7 of itself (1e-6 in float32) over 5 iterations, or no descent step left.
  /// 0: 1e-7 (float64) or 3e-5 (float32).
  double grad_tol = 0;
  std::uint64_t seed = 0;  ///< random starts are seeded per pair from (seed, pair index)
  /// reference_like: Adam steps per branch and learning rate (reference DSA defaults 1500 and
  /// 5e-3; SimilarityTransformDist class defaults 200 and 0.01).
  std::int64_t reference_iters = 1500;
  double reference_lr = 5e-3;
};

/// Per-pair outcome of a Procrustes comparison.
struct ProcrustesInfo {
  std::int64_t iterations = 0;  ///< iterations of the winning start (Adam steps for reference_like)
  std::int32_t best_start = -1;  ///< index of the winning start (candidate order as documented)
  bool converged = false;        ///< the winning start met the convergence test
  double orthogonality_error = 0;  ///< ‖CᵀC − I‖_F of the returned C
};

/// Procrustes over vector fields for a batch of pairs: pair k compares a_k with b_k (both n × n,
/// any scale: each is normalised to unit Frobenius norm first; inputs are not modified).
/// `angular[k]` = arccos⟨Â, C B̂ Cᵀ⟩ ∈ [0, π] computed stably as 2·asin(euclidean/2), and
/// `euclidean[k]` = ‖Â − C B̂ Cᵀ‖ ∈ [0, 2], at the returned C (either output may be empty).
/// `c` (optional, n × n per pair) receives the minimiser, orthogonal to rounding. Views live on
/// the context's device. `info` (optional, host) is resized to the batch. Synchronous.
/// Throws InvalidArgument for non-square or mismatched shapes, NaN/Inf or zero-norm operators.
template <class T>
DYNX_API void procrustes_vf_distance(Context& ctx, MatrixBatch<const T> a, MatrixBatch<const T> b,
                                     VectorBatch<T> angular, VectorBatch<T> euclidean,
                                     MatrixBatch<T> c = {}, const ProcrustesOptions& options = {},
                                     std::vector<ProcrustesInfo>* info = nullptr);

/// How eigenvalue sets of different sizes are weighted in the Wasserstein score (spec §4.4).
enum class WassersteinWeights {
  uniform,    ///< weights 1/n and 1/m (the reference's DSA class with score 'wasserstein')
  pad_zeros,  ///< the smaller set padded with zeros to the larger size, then uniform weights
              ///< (the reference's fallback when angular/euclidean operators differ in size)
};

/// Squared 2-Wasserstein distance between the eigenvalue sets of a_k and b_k (points in the
/// complex plane, cost |λ − μ|², exact transport: assignment when the sizes are equal). Not scale
/// invariant, 0 for any similar pair. a and b may differ in size; views on the context's device,
/// `out` on the host (count values). Synchronous.
template <class T>
DYNX_API void spectral_wasserstein(Context& ctx, MatrixBatch<const T> a, MatrixBatch<const T> b,
                                   T* out, WassersteinWeights weights = WassersteinWeights::uniform);

/// The same from precomputed eigenvalues (uniform or zero-padded weights).
template <class T>
DYNX_API T wasserstein_eigenvalues(const std::vector<std::complex<T>>& x,
                                   const std::vector<std::complex<T>>& y,
                                   WassersteinWeights weights = WassersteinWeights::uniform);

// ------------------------------------------------------------------------------------------------
// Many systems (spec §5)

/// The score reported by the DSA entry points.
enum class DsaScore {
  angular,      ///< radians, [0, π] (SimilarityTransformDist class default; DSA ≤ v2.0.0)
  euclidean,    ///< [0, 2], = 2 sin(angular / 2)
  wasserstein,  ///< squared W2 of eigenvalues (DSA class and GeneralizedDSA default ≥ v2.0.1)
};

/// What to do when two fitted operators differ in size and the score is angular/euclidean.
enum class SizeMismatch {
  error,          ///< dynx default: throw InvalidArgument naming both systems and sizes
  wasserstein,    ///< report the zero-padded Wasserstein score instead (the reference's silent
                  ///< behaviour), flagged in the pair's status
  zero_pad,       ///< pad the smaller operator with zero rows/columns, then Procrustes
};

/// Outcome of one pair in a many-system comparison.
enum class PairStatus : std::int32_t {
  ok = 0,
  not_converged = 1,       ///< the optimiser hit its iteration cap (value is still an upper bound)
  size_fallback = 2,       ///< sizes differed: Wasserstein reported (SizeMismatch::wasserstein)
  zero_padded = 3,         ///< sizes differed: smaller operator zero-padded (SizeMismatch::zero_pad)
  not_computed = 4,        ///< the run was cancelled before this pair (distance NaN)
};

struct DsaOptions {
  HankelDmdOptions fit;  ///< the same options for every system (use the model overloads to vary)
  DsaScore score = DsaScore::angular;
  ProcrustesOptions procrustes;
  SizeMismatch size_mismatch = SizeMismatch::error;
  WassersteinWeights wasserstein_weights = WassersteinWeights::uniform;
  /// Called on the calling thread after each batch of pairs: (pairs done, pairs total).
  std::function<void(std::int64_t, std::int64_t)> progress;
  /// Pairs compared per batched call (bounds memory; 0: automatic).
  std::int64_t pairs_per_batch = 0;
  /// Checked between batches (for example set by a signal handler): once true, the run stops and
  /// returns what is finished, the other pairs marked not_computed. May be null.
  const std::atomic<bool>* cancel = nullptr;
};

/// A distance matrix with per-pair diagnostics (row-major, rows × cols).
struct DsaResult {
  std::int64_t rows = 0, cols = 0;
  std::vector<double> distance;
  std::vector<PairStatus> status;
  std::vector<std::int64_t> iterations;
  bool symmetric = false;  ///< all-pairs: each unordered pair computed once and mirrored
  bool complete = true;    ///< false when cancelled: some pairs are not_computed (NaN)
};

/// All pairs of `models` (self-pairwise, spec §5): entry (i, j) for j < i is computed once as
/// d(A_i, A_j) in row-major order and mirrored; the diagonal is 0. On CUDA the pairs of a batch
/// are optimised together in batched kernels; on the CPU in parallel over pairs. Synchronous.
template <class T>
DYNX_API DsaResult compare_models_pairwise(Context& ctx, const std::vector<DmdModel<T>>& models,
                                           const DsaOptions& options = {});
/// Every d(X_i, Y_j) (bipartite; a one-to-many comparison is the case of one X or one Y).
template <class T>
DYNX_API DsaResult compare_models_cross(Context& ctx, const std::vector<DmdModel<T>>& x,
                                        const std::vector<DmdModel<T>>& y,
                                        const DsaOptions& options = {});

/// Fit, then compare all pairs (each system fitted once).
template <class T>
DYNX_API DsaResult dsa_pairwise(Context& ctx, const std::vector<TrialSet<T>>& systems,
                                const DsaOptions& options = {});
/// Fit, then compare every X system with every Y system.
template <class T>
DYNX_API DsaResult dsa_cross(Context& ctx, const std::vector<TrialSet<T>>& x,
                             const std::vector<TrialSet<T>>& y, const DsaOptions& options = {});

// ------------------------------------------------------------------------------------------------
// Compare driven systems (spec §7.4)

/// The controllability-type matrix of a driven system (A, B) that the joint comparison aligns.
enum class ControllabilityMatrix {
  /// [B, AB, AᵀB, A²B, (Aᵀ)²B, …, A^{n−1}B, (Aᵀ)^{n−1}B], n × m(2n − 1): the reference's code
  /// (default, so that its numbers can be reproduced).
  reference,
  /// [B, AB, …, A^{h−1}B], n × m·h with h = `horizon` (0: n): the InputDSA paper's K.
  powers,
};

struct ControllabilityOptions {
  DsaScore score = DsaScore::euclidean;  ///< euclidean or angular (reference default euclidean)
  ControllabilityMatrix matrix = ControllabilityMatrix::reference;
  std::int64_t horizon = 0;  ///< blocks of `powers` (0: n)
  /// Report the reference's joint value ‖K_x − C K_y‖ (angular: the angle between K_x and C K_y)
  /// with C fitted for ‖C K_x − K_y‖. It is not invariant to a rotation of either system's basis
  /// (0 only for symmetric C); use it only to reproduce published numbers. Default: the
  /// paper-consistent ‖C K_x − K_y‖ = min over orthogonal C. The components are consistent either
  /// way.
  bool reference_compat = false;
};

/// Joint InputDSA comparison of a batch of pairs of driven systems: pair k compares
/// (a_x[k], b_x[k]) with (a_y[k], b_y[k]), n × n and n × m each, not normalised (the scores are
/// scale dependent, as in the reference). C = argmin over orthogonal C of ‖C K_x − K_y‖, in closed
/// form (the polar factor of K_y K_xᵀ). Outputs, on the host, `count` values each (any may be null):
///   joint[k]   ‖C K_x − K_y‖ (euclidean) or the angle between C K_x and K_y (angular)
///   state[k]   the same for C A_x Cᵀ against A_y   (the reference's state component)
///   control[k] the same for C B_x against B_y      (the reference's control component)
/// Angles are computed stably as 2·asin(‖X/‖X‖ − Y/‖Y‖‖ / 2). `c` (optional, n × n per pair, on
/// the context's device) receives C. Views live on the context's device. Synchronous. Throws
/// InvalidArgument for different state or input dimensions, NaN/Inf, or a zero matrix under the
/// angular score.
template <class T>
DYNX_API void controllability_distance(Context& ctx, MatrixBatch<const T> a_x,
                                       MatrixBatch<const T> b_x, MatrixBatch<const T> a_y,
                                       MatrixBatch<const T> b_y, T* joint, T* state, T* control,
                                       MatrixBatch<T> c = {},
                                       const ControllabilityOptions& options = {});

/// The input score of InputDSA (the reference's compare='control'): min over orthogonal Q of
/// ‖B_x − Q B_y‖ (euclidean) or the angle between B_x and Q B_y (angular), Q the polar factor of
/// B_x B_yᵀ. Symmetric and invariant to orthogonal changes of either state basis. Pair k compares
/// b_x[k] with b_y[k] (n × m each, on the context's device); `out` on the host. Synchronous.
template <class T>
DYNX_API void input_distance(Context& ctx, MatrixBatch<const T> b_x, MatrixBatch<const T> b_y,
                             T* out, DsaScore score = DsaScore::euclidean);

/// Options of the InputDSA entry points: three scores per pair of driven systems.
struct InputDsaOptions {
  SubspaceDmdcOptions fit;  ///< the same for every system (use the model overloads to vary)
  /// The state score: DSA on the intrinsic operators A (spec §4): angular (dynx default),
  /// euclidean or wasserstein (the reference's state comparison defaults to wasserstein).
  DsaScore state_score = DsaScore::angular;
  ProcrustesOptions procrustes;
  WassersteinWeights wasserstein_weights = WassersteinWeights::uniform;
  /// The input score (input_distance) and the joint score (controllability_distance): its
  /// `score` (euclidean by default, as the reference), K and reference_compat.
  ControllabilityOptions joint;
  /// As in DsaOptions: progress of the state comparisons (the costly part), pairs per batched
  /// call, and a cancel flag checked between batches.
  std::function<void(std::int64_t, std::int64_t)> progress;
  std::int64_t pairs_per_batch = 0;
  const std::atomic<bool>* cancel = nullptr;
};

/// The three InputDSA score matrices: intrinsic dynamics (A), input-driven (B) and joint.
struct InputDsaResult {
  DsaResult state, input, joint;
  bool complete = true;
};

/// All pairs of fitted driven systems (spec §5 order and mirroring, each unordered pair once).
/// The state score needs equal state dimensions for angular/euclidean (else InvalidArgument; use
/// wasserstein), the input and joint scores equal state and input dimensions (else
/// InvalidArgument naming the pair). Synchronous.
template <class T>
DYNX_API InputDsaResult input_dsa_pairwise(Context& ctx,
                                           const std::vector<ControlModel<T>>& models,
                                           const InputDsaOptions& options = {});
/// Every (X_i, Y_j) pair.
template <class T>
DYNX_API InputDsaResult input_dsa_cross(Context& ctx, const std::vector<ControlModel<T>>& x,
                                        const std::vector<ControlModel<T>>& y,
                                        const InputDsaOptions& options = {});
/// Fit (outputs `systems[i]` driven by `inputs[i]`), then compare all pairs.
template <class T>
DYNX_API InputDsaResult input_dsa_pairwise(Context& ctx, const std::vector<TrialSet<T>>& systems,
                                           const std::vector<TrialSet<T>>& inputs,
                                           const InputDsaOptions& options = {});

// ------------------------------------------------------------------------------------------------
// Geometric baselines (compare states, not dynamics)

enum class GeometryMetric {
  procrustes,  ///< angular Procrustes shape distance arccos(‖X̃ᵀỸ‖_* / (‖X̃‖‖Ỹ‖)) on centred
               ///< states after PCA to a common dimension (Williams et al., NeurIPS 2021)
  cka,         ///< 1 − linear CKA on centred states (Kornblith et al., ICML 2019)
};

struct GeometryOptions {
  GeometryMetric metric = GeometryMetric::procrustes;
  /// Procrustes: number of principal components kept per system (≤ the smaller feature count of
  /// every pair); 0: min(N_x, N_y) per pair, which is an orthogonal change of basis and so leaves
  /// the distance unchanged when N_x = N_y. Ignored by CKA (invariant to orthogonal maps already).
  std::int64_t pca_dim = 0;
  /// Called on the calling thread after each batch of pairs: (pairs done, pairs total).
  std::function<void(std::int64_t, std::int64_t)> progress;
  /// As DsaOptions::cancel.
  const std::atomic<bool>* cancel = nullptr;
};

/// All pairs of a geometric metric on the states (the time steps of all trials stacked, centred
/// per feature). Every system must have the same number of time steps in total: the metrics
/// compare states at matched time points. Systems may differ in features. Each unordered pair is
/// computed once (row-major, j < i) and mirrored; the diagonal is 0. Data are staged through the
/// host for centring; the covariance eigendecompositions, cross products and SVDs run batched on
/// the context's device, which holds every system's states at once (T · Σ N_i values). Synchronous.
template <class T>
DYNX_API DsaResult geometry_pairwise(Context& ctx, const std::vector<TrialSet<T>>& systems,
                                     const GeometryOptions& options = {});
/// Every d(X_i, Y_j) of a geometric metric.
template <class T>
DYNX_API DsaResult geometry_cross(Context& ctx, const std::vector<TrialSet<T>>& x,
                                  const std::vector<TrialSet<T>>& y,
                                  const GeometryOptions& options = {});

// ------------------------------------------------------------------------------------------------
// Built-in example systems

/// A named example data set: a (trials, time, features) row-major array.
struct ExampleSystem {
  std::string name;
  std::string description;
  std::int64_t trials = 0, length = 0, features = 0;
  std::vector<double> data;
  /// The same data as a TrialSet (the ExampleSystem must outlive it).
  TrialSet<double> trial_set() const {
    return TrialSet<double>::equal_trials(data.data(), trials, length, features);
  }
};

/// Example systems that show what DSA adds over geometry (deterministic for a seed; every system
/// has the same trials × time so that the geometric baselines apply):
///  * `spiral`: a noise-driven damped rotation in 2-D, seen through 3 random orthonormal features;
///  * `spiral-sheared`: the very same trajectories seen through a stretched and sheared linear
///    map (the states look different; the dynamics are the same up to an invertible change of
///    coordinates, which DSA's whitening removes up to the observation noise);
///  * `spiral-rerun`: the same dynamics with new initial conditions and noise, seen through
///    another orthonormal map (trajectories differ point by point, dynamics do not);
///  * `spiral-fast`: the states of `spiral` plus a small, faster rotation (looks alike in state
///    space, but it is a different dynamical system);
///  * `vdp`, `vdp-rotated`: a noisy Van der Pol oscillator (μ = 1) and an independent run of it
///    seen through another orthonormal map (nonlinear, same dynamics).
DYNX_API std::vector<ExampleSystem> dsa_example_systems(std::uint64_t seed = 0);

/// A built-in driven example system: outputs as in ExampleSystem plus the inputs that drove it.
struct DrivenExampleSystem {
  std::string name;
  std::string description;
  std::int64_t trials = 0, length = 0, outputs = 0, inputs = 0;
  std::vector<double> y, u;  ///< (trials, length, outputs) and (trials, length, inputs), row-major
  TrialSet<double> output_set() const {
    return TrialSet<double>::equal_trials(y.data(), trials, length, outputs);
  }
  TrialSet<double> input_set() const {
    return TrialSet<double>::equal_trials(u.data(), trials, length, inputs);
  }
};

/// Driven example systems for InputDSA, the InputDSA paper's 2 × 2 design in small
/// (deterministic for a seed): 6 latent dimensions of which 3 are observed, one white-noise
/// input, a mild tanh nonlinearity, noise 0.01; intrinsic dynamics A₁ (spectral radius 0.92) or
/// A₂ (0.82), input operators B₁ (gain 0.5) or B₂ (gain 2, another direction):
///  * `A1-B1`, `A1-B2`, `A2-B1`, `A2-B2`;
///  * `A1-B1-rotated`: an independent run of `A1-B1` seen through a rotation of its outputs.
/// The state score groups them by A, the input score by B.
DYNX_API std::vector<DrivenExampleSystem> input_dsa_example_systems(std::uint64_t seed = 0);

/// The InputDSA settings used with the driven example systems.
DYNX_API InputDsaOptions input_dsa_example_options();

/// The DSA settings used with the example systems (delays and rank suited to them).
DYNX_API DsaOptions dsa_example_options();

}  // namespace dynx
