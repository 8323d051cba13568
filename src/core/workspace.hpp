#pragma once
// Carving one workspace block (Context::workspace) into aligned typed sub-buffers. Used by both
// backends: lay out the pieces once, ask the context for layout.bytes(), then take pointers.

#include <cstddef>
#include <cstdint>

namespace dynx::detail {

class WorkspaceLayout {
 public:
  static constexpr std::size_t kAlign = 256;
  /// Reserves `n` elements of T; returns the byte offset of the piece.
  template <class T>
  std::size_t add(std::size_t n) {
    offset_ = (offset_ + kAlign - 1) / kAlign * kAlign;
    const std::size_t at = offset_;
    offset_ += n * sizeof(T);
    return at;
  }
  /// Total bytes, rounded up to the alignment (so that copies of the layout can be stacked).
  std::size_t bytes() const noexcept { return (offset_ + kAlign - 1) / kAlign * kAlign; }

 private:
  std::size_t offset_ = 0;
};

template <class T>
T* at_offset(void* base, std::size_t offset) noexcept {
  return reinterpret_cast<T*>(static_cast<char*>(base) + offset);
}

}  // namespace dynx::detail
