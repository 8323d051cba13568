#pragma once
// The built-in cells bound to the CUDA backend (src/cuda/deer_cells.cu): CudaDeerCell of
// <dynx/cuda/deer_cell.cuh> with the fused sequential kernels of the built-in cells. Called by
// make_deer_cell (src/deer/cells.cpp) after the weights were checked; only in CUDA builds.

#include <dynx/config.hpp>
#include <dynx/deer.hpp>

#include <memory>

namespace dynx::detail {

#if DYNX_HAS_CUDA
template <class T>
std::unique_ptr<DeerCell<T>> cuda_deer_cell(Context& ctx, const math::TanhRnnCell<T>& cell);
template <class T>
std::unique_ptr<DeerCell<T>> cuda_deer_cell(Context& ctx, const math::MeanFieldRnnCell<T>& cell);
template <class T>
std::unique_ptr<DeerCell<T>> cuda_deer_cell(Context& ctx, const math::GruCell<T>& cell);
template <class T>
std::unique_ptr<DeerCell<T>> cuda_deer_cell(Context& ctx, const math::LstmCell<T>& cell);
#endif

}  // namespace dynx::detail
