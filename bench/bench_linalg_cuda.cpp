// Batched linear algebra on the CUDA backend: BM_<op>/cuda/<dtype>/<n>/<count>, the same ops, sizes
// and checks as the CPU program (bench_linalg.cpp). Each iteration is one dynx call on a
// Context(Device::cuda(0)), timed by a cudaEvent pair recorded on the context's stream (manual
// time), after one warm-up call outside the timed loop. Inputs and outputs stay on the device.

#include "bench_common.hpp"

#include <cuda_runtime.h>

namespace dynx::bench {
namespace {

/// Owns a cudaEvent pair; destroyed without throwing.
class EventPair {
 public:
  EventPair() {
    ok_ = cudaEventCreate(&start_) == cudaSuccess && cudaEventCreate(&stop_) == cudaSuccess;
  }
  ~EventPair() {
    if (start_) cudaEventDestroy(start_);
    if (stop_) cudaEventDestroy(stop_);
  }
  EventPair(const EventPair&) = delete;
  EventPair& operator=(const EventPair&) = delete;

  bool ok() const { return ok_; }
  cudaEvent_t start() const { return start_; }
  cudaEvent_t stop() const { return stop_; }

 private:
  cudaEvent_t start_ = nullptr, stop_ = nullptr;
  bool ok_ = false;
};

template <class T>
void register_one(OpKind op, Shape s) {
  const std::string name = bench_name<T>(op, "cuda", s);
  benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& state) {
    if (cuda_device_count() == 0) {
      state.SkipWithError("no CUDA device");
      return;
    }
    CachedCase& cc = cached_case(name, [&](CachedCase& out) {
      out.ctx = std::make_unique<Context>(Device::cuda(0));
      out.c = std::make_unique<DynxCase<T>>(*out.ctx, op, s);
    });
    if (!cc.error.empty()) {
      state.SkipWithError(cc.error.c_str());
      return;
    }
    EventPair ev;
    if (!ev.ok()) {
      state.SkipWithError("cudaEventCreate failed");
      return;
    }
    auto stream = static_cast<cudaStream_t>(cc.ctx->native_stream());
    try {
      cc.c->run();  // warm-up, outside the timed loop
      cc.ctx->synchronize();
      for (auto _ : state) {
        cudaEventRecord(ev.start(), stream);
        cc.c->run();
        cudaEventRecord(ev.stop(), stream);
        if (cudaEventSynchronize(ev.stop()) != cudaSuccess) {
          state.SkipWithError(cudaGetErrorString(cudaGetLastError()));
          break;
        }
        float ms = 0;
        cudaEventElapsedTime(&ms, ev.start(), ev.stop());
        state.SetIterationTime(ms * 1e-3);
      }
    } catch (const std::exception& e) {
      state.SkipWithError(e.what());
      return;
    }
    report(state, s);
  })
      ->Unit(benchmark::kMillisecond)
      ->UseManualTime();
}

void register_all() {
  std::vector<Shape> svd_shapes = square_shapes();
  svd_shapes.push_back(tall_svd_shape());
  for (const Shape& s : square_shapes()) {
    register_one<double>(OpKind::gemm, s);
    register_one<float>(OpKind::gemm, s);
  }
  for (const Shape& s : svd_shapes) {
    register_one<double>(OpKind::svd, s);
    register_one<float>(OpKind::svd, s);
  }
  register_one<double>(OpKind::svd_values, tall_svd_shape());
  register_one<float>(OpKind::svd_values, tall_svd_shape());
  for (OpKind op : {OpKind::qr, OpKind::eigh, OpKind::eig, OpKind::solve, OpKind::inverse, OpKind::polar})
    for (const Shape& s : square_shapes()) {
      register_one<double>(op, s);
      register_one<float>(op, s);
    }
}

}  // namespace
}  // namespace dynx::bench

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  dynx::bench::register_all();
  benchmark::AddCustomContext("dynx_version", dynx::version());
  benchmark::AddCustomContext("dynx_build", dynx::build_info());
  cudaDeviceProp prop{};
  if (dynx::cuda_device_count() > 0 && cudaGetDeviceProperties(&prop, 0) == cudaSuccess)
    benchmark::AddCustomContext("cuda_device", prop.name);
  benchmark::RunSpecifiedBenchmarks();
  dynx::bench::release_cases();
  benchmark::Shutdown();
  return 0;
}
