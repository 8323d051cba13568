#pragma once
/// \file io.hpp
/// Reading and writing the data files of `dynx compare`: NumPy .npy arrays and .npz archives, HDF5
/// datasets, and the results as .npy, CSV and an SVG heatmap.
///
/// Common contract of every function here:
/// - Host memory only; every call is synchronous and touches no Context or device.
/// - Arrays are read into double in C (row-major) order, whatever the type and order on disk.
///   Integers above 2^53 in magnitude are rounded to the nearest double.
/// - Bad or corrupt content (not the format, truncated, unsupported dtype, sizes that disagree)
///   throws InvalidArgument; a file that cannot be opened, read or written throws Error. The
///   message names the file (and the .npz member or HDF5 object) and the reason, for example
///   "data.npz: member 'x.npy': header says shape (3, 4) but 40 bytes of data are present (96
///   expected)".
/// - Corrupt input never crashes or hangs a reader, and memory is bounded by the size of the
///   input (for .npy/.npz: a small multiple of the bytes present).

#include <dynx/export.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace dynx::io {

/// One array read from a file.
struct Array {
  /// The .npz member name without ".npy", the full HDF5 dataset path ("/group/x"), or the file
  /// stem for a .npy file ("data" for "dir/data.npy").
  std::string name;
  /// Dimensions, outermost first (NumPy/C order). Empty for a 0-d (scalar) array.
  std::vector<std::int64_t> shape;
  /// The product of `shape` values, converted to double, in C (row-major) order.
  std::vector<double> data;
  /// The element type on disk in NumPy notation: "<f8", ">i4", "|u1", "|b1", ... Booleans read as
  /// 0 and 1.
  std::string source_dtype;
};

/// Reads a .npy file (format versions 1.0, 2.0 and 3.0). Supported dtypes: float 16/32/64, signed
/// and unsigned integers of 1, 2, 4 and 8 bytes and bool, in either byte order; Fortran-ordered
/// arrays are transposed to C order. `name` is the file stem. Throws Error when the file cannot be
/// read, InvalidArgument when its content is not a supported .npy array (object, structured,
/// complex, string or datetime dtype; a shape that disagrees with the data size; more than 32
/// dimensions; a corrupt header).
DYNX_API Array read_npy(const std::string& path);

/// Parses the `size` bytes of a .npy file held in memory at `bytes` (which may be null when `size`
/// is 0), as read_npy does. `name_for_errors` starts every error message and becomes the returned
/// Array's name. Throws InvalidArgument for content read_npy rejects; never reads outside
/// [bytes, bytes + size).
DYNX_API Array parse_npy(const void* bytes, std::size_t size, const std::string& name_for_errors);

/// Reads every member of a .npz archive (the ZIP files numpy.savez and numpy.savez_compressed
/// write) whose name ends in ".npy", in archive order; other members are skipped. Members may be
/// stored or deflated; ZIP64 archives are supported. Each member's CRC-32 and sizes are checked.
/// Throws Error when the file cannot be read, InvalidArgument for a corrupt or unsupported archive
/// (encrypted, split over several disks, another compression method) or member (see read_npy).
DYNX_API std::vector<Array> read_npz(const std::string& path);

/// Parses the `size` bytes of a .npz archive held in memory at `bytes`, as read_npz does.
/// `name_for_errors` starts every error message. Throws InvalidArgument for content read_npz
/// rejects; never reads outside [bytes, bytes + size).
DYNX_API std::vector<Array> parse_npz(const void* bytes, std::size_t size,
                                      const std::string& name_for_errors);

/// True when this build of libdynx can read HDF5 files (DYNX_HAS_HDF5 in dynx/config.hpp).
DYNX_API bool hdf5_available();

/// Reads numeric (integer or floating-point) datasets of an HDF5 file, converted to double.
/// - `object` empty: every numeric dataset in the file, searched recursively from the root group.
/// - `object` naming a group ("/runs" or "runs"): every numeric dataset under that group,
///   recursively.
/// - `object` naming a dataset: that dataset alone; it must be numeric.
/// Datasets reached only through soft or external links are not followed, and non-numeric datasets
/// (strings, compounds, enums such as h5py booleans) are skipped when searching a group. The result
/// is sorted by full dataset path, which is each Array's name ("/runs/x"); a scalar dataset has an
/// empty shape. The result may be empty. HDF5's own error printing is silenced during the call.
/// Not thread-safe (the HDF5 library is not). Throws Unsupported when built without HDF5, Error
/// when the file cannot be opened or a dataset cannot be read, InvalidArgument when the file is not
/// HDF5, `object` does not exist or names a non-numeric dataset or another kind of object.
DYNX_API std::vector<Array> read_hdf5(const std::string& path, const std::string& object = "");

/// Writes a .npy file (format version 1.0, dtype "<f8", C order, header padded as NumPy pads it
/// so that the data starts at a multiple of 64 bytes) holding the product of `shape` values read
/// from `data` in C order. `shape` may be empty (a 0-d array of one value). `data` is host memory
/// and may be null when the product is 0. Throws InvalidArgument for a negative dimension, more than
/// 32 dimensions, an element count that overflows, or null data; Error when the file cannot be
/// written.
DYNX_API void write_npy(const std::string& path, const std::vector<std::int64_t>& shape,
                        const double* data);
/// The same as float32 ("<f4").
DYNX_API void write_npy(const std::string& path, const std::vector<std::int64_t>& shape,
                        const float* data);

/// Writes a rows×cols row-major matrix as CSV: one line per row, values separated by commas, each
/// written with the fewest digits that read back to the same double ("nan", "inf", "-inf" for
/// non-finite values). With non-empty `col_labels` (size cols) the first line is a header; with
/// non-empty `row_labels` (size rows) each line starts with its label (and the header with an empty
/// cell). Labels are quoted as RFC 4180 requires. Throws InvalidArgument for negative sizes, label
/// counts that do not match, or null data with rows*cols > 0; Error when the file cannot be
/// written.
DYNX_API void write_csv(const std::string& path, std::int64_t rows, std::int64_t cols,
                        const double* row_major, const std::vector<std::string>& row_labels,
                        const std::vector<std::string>& col_labels);

/// Writes a self-contained SVG heatmap of a rows×cols row-major matrix: square cells coloured with
/// the viridis colormap between the finite minimum and maximum, a colour bar labelled with them
/// and `value_label`, `title` on top, row labels on the left and column labels on top (rotated when
/// long, thinned out when the cells are too small for every label), NaN cells grey and hatched,
/// and the value printed in each cell for matrices up to 20×20. Up to 100×100 cells each cell is an
/// SVG element with a hover tooltip; larger matrices are embedded as one PNG image (a square of
/// pixels per cell), which keeps a 1000×1000 file small. Labels (optional: empty vectors, otherwise sizes rows
/// and cols) and texts are XML-escaped; invalid UTF-8 is replaced. +inf/-inf cells take the
/// colour of the maximum/minimum. Throws InvalidArgument for negative sizes, label counts that do
/// not match, or null data with rows*cols > 0; Error when the file cannot be written.
DYNX_API void write_heatmap_svg(const std::string& path, std::int64_t rows, std::int64_t cols,
                                const double* row_major, const std::vector<std::string>& row_labels,
                                const std::vector<std::string>& col_labels, const std::string& title,
                                const std::string& value_label);

/// One heatmap of a multi-panel figure (the arguments of write_heatmap_svg).
struct HeatmapPanel {
  std::int64_t rows = 0, cols = 0;
  const double* row_major = nullptr;
  std::vector<std::string> row_labels, col_labels;
  std::string title, value_label;
};

/// Writes several heatmaps side by side, left to right, in one self-contained SVG file under a
/// common `title` (may be empty); each panel is drawn exactly as write_heatmap_svg draws it, with
/// its own colour scale. Throws InvalidArgument for no panels or a panel write_heatmap_svg would
/// reject (the message names the panel); Error when the file cannot be written.
DYNX_API void write_heatmap_panels_svg(const std::string& path,
                                       const std::vector<HeatmapPanel>& panels,
                                       const std::string& title);

/// One line of a line plot: y values at the plot's x positions (NaN leaves a gap).
struct LineSeries {
  std::string label;
  std::vector<double> y;
};

/// Writes a self-contained SVG line plot: every series against `x` (increasing), with axes, ticks,
/// grid lines, a legend with each series' last value, `title` and axis labels, colours from the
/// viridis colormap (one per series), and a marker with a hover tooltip per point up to 200 points
/// per series. The y range covers the finite values. With `panel_per_series`, each series gets its
/// own panel and y range, stacked top to bottom (for series of very different sizes, such as the
/// exponents of a spectrum; y_label is then the series' label). Throws InvalidArgument for no
/// series, an empty or non-increasing x, or a series whose length differs from x's; Error when
/// the file cannot be written.
DYNX_API void write_line_plot_svg(const std::string& path, const std::vector<double>& x,
                                  const std::vector<LineSeries>& series, const std::string& title,
                                  const std::string& x_label, const std::string& y_label,
                                  bool panel_per_series = false);

}  // namespace dynx::io
