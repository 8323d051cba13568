// Core types: Device, views, Buffer, copies, Context, BatchStatus, the error hierarchy, versions.

#include "common/reference.hpp"
#include "common/test_common.hpp"

#include <dynx/dynx.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <numeric>
#include <string>
#include <type_traits>
#include <vector>

namespace {

using dynx::BatchStatus;
using dynx::Buffer;
using dynx::Context;
using dynx::Device;
using dynx::MatrixStatus;

// --- Device --------------------------------------------------------------------------------------

TEST(Device, ParsesCpuAndCuda) {
  EXPECT_EQ(Device::parse("cpu"), Device::cpu());
  EXPECT_EQ(Device::parse("cuda"), Device::cuda(0));
  EXPECT_EQ(Device::parse("cuda:0"), Device::cuda(0));
  EXPECT_EQ(Device::parse("cuda:3"), Device::cuda(3));
  EXPECT_EQ(Device::parse("cuda:12").index(), 12);
  EXPECT_TRUE(Device::parse("cpu").is_cpu());
  EXPECT_TRUE(Device::parse("cuda:1").is_cuda());
}

TEST(Device, RejectsMalformedNames) {
  for (const char* bad : {"", "CPU", "tpu", "cuda:", "cuda:-1", "cuda:x", "cuda:1x", "cuda:1:2",
                          " cpu", "cpu "}) {
    SCOPED_TRACE(std::string("'") + bad + "'");
    EXPECT_THROW(Device::parse(bad), dynx::InvalidArgument);
  }
}

TEST(Device, StrRoundTripsThroughParse) {
  EXPECT_EQ(Device::cpu().str(), "cpu");
  EXPECT_EQ(Device::cuda(0).str(), "cuda:0");
  EXPECT_EQ(Device::cuda(7).str(), "cuda:7");
  for (Device d : {Device::cpu(), Device::cuda(0), Device::cuda(5)})
    EXPECT_EQ(Device::parse(d.str()), d);
}

TEST(Device, IsAConstexprValueType) {
  static_assert(Device::cpu().is_cpu());
  static_assert(Device::cuda(2).index() == 2);
  static_assert(Device::cpu() != Device::cuda(0));
  static_assert(Device() == Device::cpu());
  static_assert(Device::cuda(1) != Device::cuda(2));
  static_assert(std::is_trivially_copyable_v<Device>);
}

TEST(Device, CudaAvailabilityIsConsistent) {
  EXPECT_GE(dynx::cuda_device_count(), 0);
  if (!dynx::has_cuda_backend()) {
    EXPECT_EQ(dynx::cuda_device_count(), 0);
  }
  EXPECT_EQ(dynx::has_cuda_backend(), DYNX_HAS_CUDA != 0);
}

// --- views ---------------------------------------------------------------------------------------

TEST(MatrixBatch, AddressesColumnMajorWithLdAndStride) {
  std::vector<double> mem(100);
  std::iota(mem.begin(), mem.end(), 0.0);
  dynx::MatrixBatch<double> m(mem.data(), 3, 2, /*ld=*/5, /*stride=*/20, /*count=*/4);
  EXPECT_EQ(&m(0, 0, 0), mem.data());
  EXPECT_EQ(m(2, 1, 3), 3 * 20 + 1 * 5 + 2);
  EXPECT_EQ(m.matrix(2), mem.data() + 40);
  const auto s = m.slice(1, 2);
  EXPECT_EQ(s.count, 2);
  EXPECT_EQ(s.data, mem.data() + 20);
  EXPECT_EQ(s(0, 0, 1), 40.0);
  const dynx::MatrixBatch<const double> c = m;
  EXPECT_EQ(c.data, m.data);
  EXPECT_EQ(c.ld, 5);
  EXPECT_EQ(c.stride, 20);
  EXPECT_FALSE(m.empty());
  EXPECT_TRUE(dynx::MatrixBatch<double>().empty());
}

TEST(MatrixBatch, PackedConstructorSetsLdAndStride) {
  std::vector<float> mem(24);
  dynx::MatrixBatch<float> m(mem.data(), 3, 4, 2);
  EXPECT_EQ(m.ld, 3);
  EXPECT_EQ(m.stride, 12);
  EXPECT_EQ(m.device, Device::cpu());
}

TEST(VectorBatch, AddressesWithIncAndStride) {
  std::vector<double> mem(50);
  std::iota(mem.begin(), mem.end(), 0.0);
  dynx::VectorBatch<double> v(mem.data(), 4, /*stride=*/10, /*count=*/3, /*inc=*/2);
  EXPECT_EQ(v(3, 2), 2 * 10 + 3 * 2);
  EXPECT_EQ(v.vector(1), mem.data() + 10);
  EXPECT_EQ(v.slice(2, 1)(0), 20.0);
  dynx::VectorBatch<double> packed(mem.data(), 5, 2);
  EXPECT_EQ(packed.stride, 5);
  EXPECT_EQ(packed.inc, 1);
  const dynx::VectorBatch<const double> c = v;
  EXPECT_EQ(c.inc, 2);
}

// --- Buffer and copies ---------------------------------------------------------------------------

TEST(Buffer, AllocatesAlignedHostMemory) {
  Buffer<double> b(37);
  ASSERT_NE(b.data(), nullptr);
  EXPECT_EQ(b.size(), 37u);
  EXPECT_EQ(b.bytes(), 37 * sizeof(double));
  EXPECT_EQ(b.device(), Device::cpu());
  EXPECT_FALSE(b.empty());
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(b.data()) % 64, 0u);  // documented: 64-byte aligned
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<double>(i);
  EXPECT_EQ(b[36], 36.0);
}

TEST(Buffer, ZeroSizeHoldsNoMemory) {
  Buffer<float> b(0);
  EXPECT_EQ(b.data(), nullptr);
  EXPECT_TRUE(b.empty());
  Buffer<float> d;
  EXPECT_EQ(d.data(), nullptr);
  EXPECT_EQ(d.size(), 0u);
}

TEST(Buffer, IsMoveOnly) {
  static_assert(!std::is_copy_constructible_v<Buffer<double>>);
  static_assert(!std::is_copy_assignable_v<Buffer<double>>);
  static_assert(std::is_nothrow_move_constructible_v<Buffer<double>>);
  static_assert(std::is_nothrow_move_assignable_v<Buffer<double>>);
}

TEST(Buffer, MoveConstructionTransfersOwnership) {
  Buffer<int> a(8);
  a[3] = 42;
  int* p = a.data();
  Buffer<int> b(std::move(a));
  EXPECT_EQ(b.data(), p);
  EXPECT_EQ(b.size(), 8u);
  EXPECT_EQ(b[3], 42);
  EXPECT_EQ(a.data(), nullptr);  // NOLINT(bugprone-use-after-move): moved-from state is specified
  EXPECT_EQ(a.size(), 0u);
  EXPECT_TRUE(a.empty());
}

TEST(Buffer, MoveAssignmentReleasesTheOldBlock) {
  Buffer<int> a(4), b(16);
  int* pb = b.data();
  a = std::move(b);
  EXPECT_EQ(a.data(), pb);
  EXPECT_EQ(a.size(), 16u);
  EXPECT_EQ(b.data(), nullptr);  // NOLINT(bugprone-use-after-move)
  // Self-move leaves the buffer intact.
  Buffer<int>& alias = a;
  a = std::move(alias);
  EXPECT_EQ(a.data(), pb);
  EXPECT_EQ(a.size(), 16u);
  a.reset();
  EXPECT_EQ(a.data(), nullptr);
  EXPECT_EQ(a.size(), 0u);
}

TEST(Buffer, ViewsArePackedOverTheSameMemory) {
  Buffer<double> b(2 * 3 * 4);
  auto m = b.matrices(2, 3, 4);
  EXPECT_EQ(m.data, b.data());
  EXPECT_EQ(m.ld, 2);
  EXPECT_EQ(m.stride, 6);
  EXPECT_EQ(m.count, 4);
  auto v = b.vectors(6, 4);
  EXPECT_EQ(v.data, b.data());
  EXPECT_EQ(v.stride, 6);
}

TEST(CopyBytes, CopiesHostToHost) {
  Context ctx;
  std::vector<std::uint8_t> src(1000), dst(1000, 0);
  for (std::size_t i = 0; i < src.size(); ++i) src[i] = static_cast<std::uint8_t>(i * 7 + 1);
  dynx::copy_bytes(ctx, dst.data(), Device::cpu(), src.data(), Device::cpu(), src.size());
  EXPECT_EQ(dst, src);
  // Zero bytes is a no-op, even with null pointers.
  EXPECT_NO_THROW(dynx::copy_bytes(ctx, nullptr, Device::cpu(), nullptr, Device::cpu(), 0));
}

TEST(CopyBytes, RejectsNullPointers) {
  Context ctx;
  std::vector<char> buf(8);
  EXPECT_THROW(dynx::copy_bytes(ctx, nullptr, Device::cpu(), buf.data(), Device::cpu(), 8),
               dynx::InvalidArgument);
  EXPECT_THROW(dynx::copy_bytes(ctx, buf.data(), Device::cpu(), nullptr, Device::cpu(), 8),
               dynx::InvalidArgument);
}

TEST(ZeroBytes, ClearsHostMemory) {
  Context ctx;
  std::vector<double> v(33, 3.5);
  dynx::zero_bytes(ctx, v.data(), Device::cpu(), 10 * sizeof(double));
  for (int i = 0; i < 10; ++i) EXPECT_EQ(v[i], 0.0);
  EXPECT_EQ(v[10], 3.5);
}

TEST(Buffer, CopyToDeviceAndBackOnTheCpu) {
  Context ctx;
  std::vector<float> host = {1, 2, 3, 4, 5};
  Buffer<float> b = dynx::to_device(ctx, host.data(), host.size());
  EXPECT_EQ(b.device(), Device::cpu());
  EXPECT_EQ(dynx::to_host(ctx, b), host);
  Buffer<float> c(3);
  dynx::copy(ctx, c, b);  // copies min(3, 5) elements
  EXPECT_EQ(dynx::to_host(ctx, c), (std::vector<float>{1, 2, 3}));
}

TEST(Buffer, CudaAllocationWithoutCudaBackendIsUnsupported) {
  if (dynx::has_cuda_backend()) GTEST_SKIP() << "this libdynx has the CUDA backend";
  EXPECT_THROW(Buffer<double>(4, Device::cuda(0)), dynx::Unsupported);
}

// --- Context -------------------------------------------------------------------------------------

TEST(Context, DefaultsToTheCpu) {
  Context ctx;
  EXPECT_EQ(ctx.device(), Device::cpu());
  EXPECT_EQ(ctx.native_stream(), nullptr);
  EXPECT_GE(ctx.num_threads(), 1);
  EXPECT_NO_THROW(ctx.synchronize());
  EXPECT_EQ(ctx.workspace_size(), 0u);
}

TEST(Context, WorkspaceGrowsAndIsAligned) {
  Context ctx;
  void* p = ctx.workspace(100);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % 256, 0u);
  EXPECT_GE(ctx.workspace_size(), 100u);
  std::memset(p, 0xab, 100);  // the block is usable (ASan checks the extent)

  // A smaller request reuses the block.
  EXPECT_EQ(ctx.workspace(10), p);
  EXPECT_EQ(ctx.workspace(ctx.workspace_size()), p);

  // A larger one grows it.
  void* q = ctx.workspace(100000);
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(q) % 256, 0u);
  EXPECT_GE(ctx.workspace_size(), 100000u);
  std::memset(q, 0xcd, 100000);
  const std::size_t size = ctx.workspace_size();
  EXPECT_EQ(ctx.workspace(50), q);
  EXPECT_EQ(ctx.workspace_size(), size);  // never shrinks
}

TEST(Context, WorkspaceOfManySizesStaysAligned) {
  Context ctx;
  for (std::size_t bytes : {1u, 255u, 257u, 1000u, 4097u, 65537u, 300000u}) {
    void* p = ctx.workspace(bytes);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % 256, 0u) << bytes;
    EXPECT_GE(ctx.workspace_size(), bytes);
    static_cast<char*>(p)[bytes - 1] = 1;  // the last requested byte is writable
  }
}

TEST(Context, NumThreadsIsSettable) {
  Context ctx;
  ctx.set_num_threads(3);
  EXPECT_EQ(ctx.num_threads(), 3);
  ctx.set_num_threads(1);
  EXPECT_EQ(ctx.num_threads(), 1);
  EXPECT_THROW(ctx.set_num_threads(0), dynx::InvalidArgument);
  EXPECT_THROW(ctx.set_num_threads(-2), dynx::InvalidArgument);
  EXPECT_EQ(ctx.num_threads(), 1);
}

TEST(Context, IsMovable) {
  Context a;
  a.set_num_threads(2);
  void* p = a.workspace(512);
  Context b(std::move(a));
  EXPECT_EQ(b.device(), Device::cpu());
  EXPECT_EQ(b.num_threads(), 2);
  EXPECT_EQ(b.workspace(256), p);
  Context c;
  c = std::move(b);
  EXPECT_EQ(c.workspace(256), p);
}

TEST(Context, CudaWithoutUsableDeviceThrows) {
  if (dynx::cuda_device_count() > 0) GTEST_SKIP() << "a CUDA device is present";
  try {
    Context ctx(Device::cuda(0));
    FAIL() << "Context(cuda:0) succeeded without a CUDA device";
  } catch (const dynx::Unsupported& e) {
    EXPECT_FALSE(dynx::has_cuda_backend()) << "Unsupported although the backend is built: " << e.what();
  } catch (const dynx::InvalidArgument& e) {
    EXPECT_TRUE(dynx::has_cuda_backend()) << e.what();
    EXPECT_NE(std::string(e.what()).find("cuda:0"), std::string::npos) << e.what();
  }
}

TEST(Context, NonexistentCudaIndexThrows) {
  const int n = dynx::cuda_device_count();
  try {
    Context ctx(Device::cuda(n + 100));
    FAIL() << "Context on a nonexistent device succeeded";
  } catch (const dynx::Unsupported&) {
    EXPECT_FALSE(dynx::has_cuda_backend());
  } catch (const dynx::InvalidArgument&) {
    EXPECT_TRUE(dynx::has_cuda_backend());
  }
}

// --- BatchStatus ---------------------------------------------------------------------------------

TEST(BatchStatus, StartsEmptyAndOk) {
  BatchStatus st;
  EXPECT_EQ(st.count(), 0);
  EXPECT_TRUE(st.all_ok());
  EXPECT_EQ(st.failures(), 0);
  EXPECT_TRUE(st.failed_indices().empty());
  EXPECT_NO_THROW(st.check());
  EXPECT_THROW(st.at(0), dynx::InvalidArgument);
}

TEST(BatchStatus, ToStringNamesEveryCode) {
  EXPECT_STREQ(dynx::to_string(MatrixStatus::ok), "ok");
  EXPECT_NE(std::string(dynx::to_string(MatrixStatus::not_converged)).find("converge"), std::string::npos);
  EXPECT_STREQ(dynx::to_string(MatrixStatus::singular), "singular");
  EXPECT_NE(std::string(dynx::to_string(MatrixStatus::non_finite)).find("finite"), std::string::npos);
  EXPECT_STRNE(dynx::to_string(static_cast<MatrixStatus>(99)), "");
}

// A batch of n×n matrices where the listed ones are exactly singular (a zero column) and the
// others the identity plus a small perturbation.
dynx::test::HostBatch<double> batch_with_singular(std::int64_t n, std::int64_t count,
                                                  const std::vector<std::int64_t>& singular) {
  dynx::test::HostBatch<double> a(n, n, count);
  for (std::int64_t k = 0; k < count; ++k)
    for (std::int64_t i = 0; i < n; ++i) a(i, i, k) = 2.0 + 0.1 * static_cast<double>(i + k);
  for (auto k : singular)
    for (std::int64_t i = 0; i < n; ++i) a(i, 0, k) = 0.0;
  return a;
}

TEST(BatchStatus, ReportsFailedMatricesOfAnOperation) {
  Context ctx;
  auto a = batch_with_singular(3, 4, {1, 3});
  dynx::test::HostBatch<double> inv(3, 3, 4);
  BatchStatus st;
  dynx::inverse_batched<double>(ctx, a.cview(), inv.view(), &st);
  EXPECT_EQ(st.count(), 4);
  EXPECT_FALSE(st.all_ok());
  EXPECT_EQ(st.failures(), 2);
  EXPECT_EQ(st.failed_indices(), (std::vector<std::int64_t>{1, 3}));
  EXPECT_EQ(st.at(0), MatrixStatus::ok);
  EXPECT_EQ(st.at(1), MatrixStatus::singular);
  EXPECT_EQ(st.at(2), MatrixStatus::ok);
  EXPECT_EQ(st.at(3), MatrixStatus::singular);
  EXPECT_THROW(st.at(4), dynx::InvalidArgument);
  EXPECT_THROW(st.at(-1), dynx::InvalidArgument);
}

TEST(BatchStatus, CheckMessageNamesOpCountAndMatrices) {
  Context ctx;
  auto a = batch_with_singular(2, 3, {2});
  dynx::test::HostBatch<double> inv(2, 2, 3);
  BatchStatus st;
  dynx::inverse_batched<double>(ctx, a.cview(), inv.view(), &st);
  try {
    st.check("my_inverse");
    FAIL() << "check() did not throw";
  } catch (const dynx::NumericalError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("my_inverse"), std::string::npos) << msg;
    EXPECT_NE(msg.find("1 of 3"), std::string::npos) << msg;
    EXPECT_NE(msg.find("matrix 2"), std::string::npos) << msg;
    EXPECT_NE(msg.find("singular"), std::string::npos) << msg;
  }
}

TEST(BatchStatus, CheckMessageAbbreviatesLongLists) {
  Context ctx;
  auto a = batch_with_singular(2, 8, {0, 1, 2, 3, 4, 5, 6});
  dynx::test::HostBatch<double> inv(2, 2, 8);
  BatchStatus st;
  dynx::inverse_batched<double>(ctx, a.cview(), inv.view(), &st);
  EXPECT_EQ(st.failures(), 7);
  try {
    st.check();
    FAIL() << "check() did not throw";
  } catch (const dynx::NumericalError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("7 of 8"), std::string::npos) << msg;
    EXPECT_NE(msg.find("..."), std::string::npos) << msg;
    EXPECT_EQ(msg.find("matrix 6"), std::string::npos) << "lists more than five: " << msg;
  }
}

TEST(BatchStatus, IsResetByTheNextOperation) {
  Context ctx;
  BatchStatus st;
  auto bad = batch_with_singular(2, 3, {0});
  dynx::test::HostBatch<double> inv(2, 2, 3);
  dynx::inverse_batched<double>(ctx, bad.cview(), inv.view(), &st);
  EXPECT_EQ(st.failures(), 1);

  auto good = batch_with_singular(2, 2, {});
  dynx::test::HostBatch<double> inv2(2, 2, 2);
  dynx::inverse_batched<double>(ctx, good.cview(), inv2.view(), &st);
  EXPECT_EQ(st.count(), 2);
  EXPECT_TRUE(st.all_ok());
  EXPECT_NO_THROW(st.check());

  // An empty batch leaves a status of count 0.
  dynx::inverse_batched<double>(ctx, dynx::MatrixBatch<const double>(nullptr, 2, 2, 0),
                                dynx::MatrixBatch<double>(nullptr, 2, 2, 0), &st);
  EXPECT_EQ(st.count(), 0);
  EXPECT_TRUE(st.all_ok());
}

TEST(BatchStatus, IsMovable) {
  Context ctx;
  BatchStatus st;
  auto a = batch_with_singular(2, 2, {1});
  dynx::test::HostBatch<double> inv(2, 2, 2);
  dynx::inverse_batched<double>(ctx, a.cview(), inv.view(), &st);
  BatchStatus moved(std::move(st));
  EXPECT_EQ(moved.count(), 2);
  EXPECT_EQ(moved.at(1), MatrixStatus::singular);
}

// status.hpp: codes are copied to the host "the first time they are needed after a call (which
// synchronises that context)". Nothing requires the Context to outlive the BatchStatus, and a
// status is often kept longer than a scoped Context; reading it afterwards must be safe.
TEST(BatchStatus, IsReadableAfterItsContextIsDestroyed) {
  BatchStatus st;
  {
    Context ctx;
    auto a = batch_with_singular(2, 3, {1});
    dynx::test::HostBatch<double> inv(2, 2, 3);
    dynx::inverse_batched<double>(ctx, a.cview(), inv.view(), &st);
  }
  EXPECT_EQ(st.count(), 3);
  EXPECT_EQ(st.failures(), 1);
  EXPECT_EQ(st.at(1), MatrixStatus::singular);
}

TEST(BatchStatus, FollowsAMovedContext) {
  BatchStatus st;
  Context a;
  auto bad = batch_with_singular(2, 3, {2});
  dynx::test::HostBatch<double> inv(2, 2, 3);
  dynx::inverse_batched<double>(a, bad.cview(), inv.view(), &st);
  Context b(std::move(a));
  EXPECT_EQ(st.failed_indices(), (std::vector<std::int64_t>{2}));
  // The moved-to context keeps serving the same status.
  auto good = batch_with_singular(2, 2, {});
  dynx::test::HostBatch<double> inv2(2, 2, 2);
  dynx::inverse_batched<double>(b, good.cview(), inv2.view(), &st);
  EXPECT_EQ(st.count(), 2);
  EXPECT_TRUE(st.all_ok());
}

// --- errors --------------------------------------------------------------------------------------

TEST(Error, HierarchyDerivesFromDynxError) {
  static_assert(std::is_base_of_v<std::runtime_error, dynx::Error>);
  static_assert(std::is_base_of_v<dynx::Error, dynx::InvalidArgument>);
  static_assert(std::is_base_of_v<dynx::Error, dynx::Unsupported>);
  static_assert(std::is_base_of_v<dynx::Error, dynx::NumericalError>);
  static_assert(std::is_base_of_v<dynx::Error, dynx::CudaError>);
  static_assert(std::is_base_of_v<dynx::Error, dynx::CublasError>);
  static_assert(std::is_base_of_v<dynx::Error, dynx::CusolverError>);
}

TEST(Error, LibraryErrorsAreCaughtAsDynxError) {
  try {
    Device::parse("nope");
    FAIL();
  } catch (const dynx::Error& e) {
    EXPECT_NE(std::string(e.what()).find("nope"), std::string::npos);
    EXPECT_NE(dynamic_cast<const dynx::InvalidArgument*>(&e), nullptr);
  }
  try {
    throw dynx::CudaError(700, "an illegal memory access");
  } catch (const dynx::Error& e) {
    auto* ce = dynamic_cast<const dynx::CudaError*>(&e);
    ASSERT_NE(ce, nullptr);
    EXPECT_EQ(ce->code(), 700);
    EXPECT_STREQ(e.what(), "an illegal memory access");
  }
  EXPECT_EQ(dynx::CublasError(13, "x").code(), 13);
  EXPECT_EQ(dynx::CusolverError(7, "y").code(), 7);
}

TEST(Error, ArgumentErrorsCarryExpressionAndLocation) {
  Context ctx;
  try {
    ctx.set_num_threads(0);
    FAIL();
  } catch (const dynx::InvalidArgument& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("set_num_threads"), std::string::npos) << msg;
    EXPECT_NE(msg.find(".cpp:"), std::string::npos) << "no file:line in " << msg;
  }
}

// --- version and types ---------------------------------------------------------------------------

TEST(Version, MatchesTheHeader) {
  EXPECT_STREQ(dynx::version(), DYNX_VERSION_STRING);
  const std::string expected = std::to_string(DYNX_VERSION_MAJOR) + "." +
                               std::to_string(DYNX_VERSION_MINOR) + "." +
                               std::to_string(DYNX_VERSION_PATCH);
  EXPECT_EQ(expected, DYNX_VERSION_STRING);
  const std::string info = dynx::build_info();
  EXPECT_NE(info.find(DYNX_VERSION_STRING), std::string::npos) << info;
  EXPECT_NE(info.find("cpu"), std::string::npos) << info;
  EXPECT_EQ(info.find("cuda") != std::string::npos, dynx::has_cuda_backend()) << info;
}

TEST(Dtype, SizesAndNames) {
  static_assert(dynx::dtype_v<float> == dynx::Dtype::f32);
  static_assert(dynx::dtype_v<const double> == dynx::Dtype::f64);
  static_assert(dynx::dtype_v<std::complex<float>> == dynx::Dtype::c64);
  static_assert(dynx::dtype_size(dynx::Dtype::c128) == 16);
  static_assert(dynx::dtype_size(dynx::Dtype::i32) == 4);
  EXPECT_STREQ(dynx::dtype_name(dynx::Dtype::f32), "f32");
  EXPECT_STREQ(dynx::dtype_name(dynx::Dtype::c128), "c128");
}

}  // namespace
