// HDF5 reader (HDF5 C API): integer and floating-point datasets converted to double by H5Dread.
//
// HDF5 prints its error stack to stderr by default; we switch that off for the duration of a call
// (restoring the caller's handler afterwards) and turn failures into dynx errors that carry the
// innermost message of the stack. Built without HDF5 (DYNX_HAS_HDF5 == 0), read_hdf5 throws
// Unsupported.

#include <dynx/config.hpp>
#include <dynx/io.hpp>

#include "io/util.hpp"

#if DYNX_HAS_HDF5
#include <hdf5.h>

#include <algorithm>
#include <cerrno>
#include <new>
#endif

namespace dynx::io {

bool hdf5_available() { return DYNX_HAS_HDF5 != 0; }

#if !DYNX_HAS_HDF5

std::vector<Array> read_hdf5(const std::string& path, const std::string&) {
  throw Unsupported(path + ": cannot read HDF5 files: this build of dynx has no HDF5 support "
                           "(rebuild with libhdf5-dev installed and -DDYNX_ENABLE_HDF5=ON)");
}

#else

namespace {

using detail::fail;
using detail::printable;

// Silences HDF5's automatic error printing for the lifetime of the guard.
class QuietErrors {
 public:
  QuietErrors() {
    H5Eget_auto2(H5E_DEFAULT, &func_, &data_);
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  }
  ~QuietErrors() { H5Eset_auto2(H5E_DEFAULT, func_, data_); }
  QuietErrors(const QuietErrors&) = delete;
  QuietErrors& operator=(const QuietErrors&) = delete;

 private:
  H5E_auto2_t func_ = nullptr;
  void* data_ = nullptr;
};

// Owns an HDF5 identifier and closes it with H5Idec_ref (which works for every kind).
class Handle {
 public:
  explicit Handle(hid_t id = H5I_INVALID_HID) : id_(id) {}
  ~Handle() {
    if (id_ >= 0) H5Idec_ref(id_);
  }
  Handle(Handle&& o) noexcept : id_(o.id_) { o.id_ = H5I_INVALID_HID; }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }

 private:
  hid_t id_;
};

// The innermost description on HDF5's error stack ("" when empty); clears the stack.
std::string hdf5_error() {
  std::string msg;
  H5Ewalk2(
      H5E_DEFAULT, H5E_WALK_UPWARD,
      [](unsigned n, const H5E_error2_t* e, void* out) -> herr_t {
        if (n == 0 && e && e->desc) *static_cast<std::string*>(out) = e->desc;
        return 0;
      },
      &msg);
  H5Eclear2(H5E_DEFAULT);
  return msg.empty() ? std::string() : " (HDF5: " + msg + ")";
}

// "/a/b" for "a/b" or "/a/b/", "/" for "".
std::string absolute(std::string name) {
  while (!name.empty() && name.back() == '/') name.pop_back();
  return name.empty() || name[0] != '/' ? "/" + name : name;
}

std::string join_path(const std::string& group, const char* rel) {
  return group == "/" ? "/" + std::string(rel) : group + "/" + rel;
}

bool is_numeric(hid_t type) {
  const H5T_class_t c = H5Tget_class(type);
  return c == H5T_INTEGER || c == H5T_FLOAT;
}

// NumPy notation for an HDF5 integer or float type: "<f8", ">i4", "|u1".
std::string dtype_name(hid_t type) {
  const std::size_t size = H5Tget_size(type);
  char kind = 'f';
  if (H5Tget_class(type) == H5T_INTEGER) kind = H5Tget_sign(type) == H5T_SGN_NONE ? 'u' : 'i';
  const char order = size == 1 ? '|' : (H5Tget_order(type) == H5T_ORDER_BE ? '>' : '<');
  return fmt::format("{}{}{}", order, kind, size);
}

const char* class_name(H5T_class_t c) {
  switch (c) {
    case H5T_STRING: return "string";
    case H5T_COMPOUND: return "compound";
    case H5T_ENUM: return "enum";
    case H5T_ARRAY: return "array";
    case H5T_VLEN: return "variable-length";
    case H5T_BITFIELD: return "bitfield";
    case H5T_OPAQUE: return "opaque";
    case H5T_REFERENCE: return "reference";
    case H5T_TIME: return "time";
    default: return "unknown";
  }
}

Array read_dataset(hid_t file, const std::string& path, const std::string& dset_path) {
  const std::string where = fmt::format("{}: dataset '{}'", path, printable(dset_path, 200));
  Handle dset(H5Dopen2(file, dset_path.c_str(), H5P_DEFAULT));
  if (!dset.ok()) throw Error(where + ": cannot open the dataset" + hdf5_error());
  Handle type(H5Dget_type(dset.get()));
  if (!type.ok()) throw Error(where + ": cannot read the datatype" + hdf5_error());
  if (!is_numeric(type.get()))
    fail(where, "has {} elements: only integer and floating-point datasets can be read",
         class_name(H5Tget_class(type.get())));
  Handle space(H5Dget_space(dset.get()));
  if (!space.ok()) throw Error(where + ": cannot read the dataspace" + hdf5_error());

  Array a;
  a.name = dset_path;
  a.source_dtype = dtype_name(type.get());
  const H5S_class_t sclass = H5Sget_simple_extent_type(space.get());
  std::int64_t count = 1;
  if (sclass == H5S_NULL) {
    a.shape = {0};
    return a;
  }
  if (sclass == H5S_SIMPLE) {
    const int nd = H5Sget_simple_extent_ndims(space.get());
    if (nd < 0 || nd > H5S_MAX_RANK) throw Error(where + ": cannot read the dataspace" + hdf5_error());
    std::vector<hsize_t> dims(static_cast<std::size_t>(nd));
    if (H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr) < 0)
      throw Error(where + ": cannot read the dataspace" + hdf5_error());
    for (hsize_t d : dims) {
      if (d > static_cast<hsize_t>(std::numeric_limits<std::int64_t>::max()))
        fail(where, "has a dimension too large for 64 bits");
      a.shape.push_back(static_cast<std::int64_t>(d));
    }
    for (std::int64_t d : a.shape)
      if (!detail::mul_ok(count, d, &count) || count > std::numeric_limits<std::int64_t>::max() / 8)
        fail(where, "shape {} has too many elements", detail::shape_text(a.shape));
  } else if (sclass != H5S_SCALAR) {
    throw Error(where + ": cannot read the dataspace" + hdf5_error());
  }
  try {
    a.data.resize(static_cast<std::size_t>(count));
  } catch (const std::bad_alloc&) {
    throw Error(fmt::format("{}: not enough memory for {} values of shape {}", where, count,
                            detail::shape_text(a.shape)));
  }
  if (count > 0 &&
      H5Dread(dset.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, a.data.data()) < 0)
    throw Error(where + ": cannot read the data" + hdf5_error());
  return a;
}

// Full paths of the numeric datasets under `group_path`, reached through hard links.
std::vector<std::string> find_datasets(hid_t group, const std::string& group_path,
                                       const std::string& where) {
  struct Visit {
    std::string prefix;
    std::vector<std::string> found;
  } visit{group_path, {}};
  const herr_t rc = H5Lvisit(
      group, H5_INDEX_NAME, H5_ITER_INC,
      [](hid_t g, const char* name, const H5L_info_t* info, void* data) -> herr_t {
        if (info->type != H5L_TYPE_HARD) return 0;  // soft and external links are not followed
        Handle obj(H5Oopen(g, name, H5P_DEFAULT));
        if (!obj.ok() || H5Iget_type(obj.get()) != H5I_DATASET) return 0;
        Handle type(H5Dget_type(obj.get()));
        auto* v = static_cast<Visit*>(data);
        if (type.ok() && is_numeric(type.get())) v->found.push_back(join_path(v->prefix, name));
        return 0;
      },
      &visit);
  if (rc < 0) throw Error(where + ": cannot list the group" + hdf5_error());
  std::sort(visit.found.begin(), visit.found.end());
  return visit.found;
}

}  // namespace

std::vector<Array> read_hdf5(const std::string& path, const std::string& object) {
  QuietErrors quiet;
  {
    // A clear I/O error for a missing or unreadable file, before HDF5's less specific one.
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) detail::fail_io(path, "cannot open", errno);
    std::fclose(f);
  }
  const htri_t is_hdf5 = H5Fis_hdf5(path.c_str());
  if (is_hdf5 == 0) fail(path, "not an HDF5 file");
  if (is_hdf5 < 0) throw Error(path + ": cannot open as HDF5" + hdf5_error());
  Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
  if (!file.ok()) throw Error(path + ": cannot open as HDF5" + hdf5_error());

  const std::string target = absolute(object);
  const std::string where = fmt::format("{}: object '{}'", path, printable(target, 200));
  // H5Lexists fails when an intermediate group is missing, so check each component in turn.
  if (target != "/") {
    std::size_t pos = 0;
    while (pos != std::string::npos) {
      pos = target.find('/', pos + 1);
      const std::string prefix = target.substr(0, pos);
      if (prefix.size() > 1 && prefix.back() == '/') continue;  // "a//b"
      if (H5Lexists(file.get(), prefix.c_str(), H5P_DEFAULT) <= 0) {
        hdf5_error();
        fail(where, "no such group or dataset in the file");
      }
    }
  }
  Handle obj(H5Oopen(file.get(), target.c_str(), H5P_DEFAULT));
  if (!obj.ok()) throw Error(where + ": cannot open" + hdf5_error());
  const H5I_type_t kind = H5Iget_type(obj.get());
  std::vector<Array> out;
  if (kind == H5I_DATASET) {
    out.push_back(read_dataset(file.get(), path, target));
  } else if (kind == H5I_GROUP) {
    for (const std::string& d : find_datasets(obj.get(), target, where))
      out.push_back(read_dataset(file.get(), path, d));
  } else {
    fail(where, "is neither a group nor a dataset");
  }
  return out;
}

#endif  // DYNX_HAS_HDF5

}  // namespace dynx::io
