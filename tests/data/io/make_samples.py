#!/usr/bin/env python3
"""Regenerates the small sample files under tests/data/io/ and the fuzz seeds under tests/data/fuzz/.

Written by NumPy and h5py themselves, so that the dynx readers are checked against the real
writers. The C++ tests (tests/unit/test_io.cpp) know the values: for the dtype samples a 2x3 array
with element i equal to BASE + i (BASE = -2 for signed and float types, 250 for unsigned ones, and
i % 2 for bool).

    pip install numpy h5py
    python3 tests/data/io/make_samples.py
"""
import io
import os
import struct
import zlib

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
FUZZ = os.path.join(HERE, "..", "fuzz")

DTYPES = {
    "f8_le": "<f8", "f4_le": "<f4", "f8_be": ">f8", "f4_be": ">f4", "f2_le": "<f2",
    "i1": "|i1", "i2_le": "<i2", "i4_le": "<i4", "i8_le": "<i8", "i4_be": ">i4", "i8_be": ">i8",
    "u1": "|u1", "u2_le": "<u2", "u4_le": "<u4", "u8_le": "<u8", "b1": "|b1",
}


def sample(dtype):
    dt = np.dtype(dtype)
    i = np.arange(6).reshape(2, 3)
    if dt.kind == "b":
        return (i % 2).astype(dt)
    if dt.kind == "u":
        return (i + 250).astype(dt)
    return (i - 2).astype(dt)


def save_version(path, arr, version):
    with open(path, "wb") as f:
        np.lib.format.write_array(f, arr, version=version)


def npy_bytes(arr):
    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


def zip64_archive(name, payload):
    """One stored member with every size and offset in ZIP64 fields (APPNOTE 4.3.9, 4.5.3)."""
    crc, n = zlib.crc32(payload), len(payload)
    local = (struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 0, 0, 0, crc, 0xFFFFFFFF, 0xFFFFFFFF,
                         len(name), 20) + name + struct.pack("<HHQQ", 1, 16, n, n) + payload)
    extra = struct.pack("<HHQQQ", 1, 24, n, n, 0)
    cd = (struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 0, 0, 0, crc, 0xFFFFFFFF,
                      0xFFFFFFFF, len(name), len(extra), 0, 0, 0, 0, 0xFFFFFFFF) + name + extra)
    z64_end = struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, 1, 1, len(cd), len(local))
    locator = struct.pack("<IIQI", 0x07064B50, 0, len(local) + len(cd), 1)
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    return local + cd + z64_end + locator + end


def main():
    io_dir = HERE
    for name, dtype in DTYPES.items():
        np.save(os.path.join(io_dir, f"dtype_{name}.npy"), sample(dtype))
    np.save(os.path.join(io_dir, "fortran_f8_2x3x4.npy"),
            np.asfortranarray(np.arange(24, dtype="<f8").reshape(2, 3, 4)))
    np.save(os.path.join(io_dir, "fortran_i2_be_3x2.npy"),
            np.asfortranarray(np.arange(6, dtype=">i2").reshape(3, 2)))
    save_version(os.path.join(io_dir, "v2_f8_5.npy"), np.arange(5, dtype="<f8"), (2, 0))
    save_version(os.path.join(io_dir, "v3_f4_2x2.npy"), np.arange(4, dtype="<f4").reshape(2, 2), (3, 0))
    np.save(os.path.join(io_dir, "scalar_f8.npy"), np.array(3.5))
    np.save(os.path.join(io_dir, "empty_f8_0x3.npy"), np.zeros((0, 3)))

    arrays = dict(a=np.arange(6, dtype="<f8").reshape(2, 3), b=np.arange(5, dtype="<i4"),
                  c=np.array(2.5))
    np.savez(os.path.join(io_dir, "stored.npz"), **arrays)
    np.savez_compressed(os.path.join(io_dir, "deflated.npz"), **arrays)

    try:
        import h5py
    except ImportError:
        print("h5py not installed: sample.h5 not regenerated")
    else:
        with h5py.File(os.path.join(io_dir, "sample.h5"), "w") as f:
            f["x"] = np.arange(6, dtype="<f8").reshape(2, 3)
            g = f.create_group("grp")
            g["y"] = np.arange(4, dtype="<i2") - 1
            g.create_group("sub")["z"] = np.float32(1.5)
            g["big_endian"] = np.arange(3, dtype=">i4")
            g["half"] = np.array([0.5, -1.0, 2.0], dtype="<f2")
            g.create_dataset("zipped", data=np.arange(100, dtype="<f8").reshape(10, 10),
                             chunks=(5, 5), compression="gzip")
            g["text"] = "not numeric"
            g["flags"] = np.array([True, False])  # an HDF5 enum: skipped
            f["link_to_x"] = h5py.SoftLink("/x")  # soft links are not followed

    # Fuzz seeds: tiny, valid inputs of each kind.
    os.makedirs(os.path.join(FUZZ, "npy"), exist_ok=True)
    os.makedirs(os.path.join(FUZZ, "npz"), exist_ok=True)
    np.save(os.path.join(FUZZ, "npy", "f8_2x3.npy"), sample("<f8"))
    np.save(os.path.join(FUZZ, "npy", "fortran_i2_be.npy"),
            np.asfortranarray(np.arange(6, dtype=">i2").reshape(3, 2)))
    np.save(os.path.join(FUZZ, "npy", "b1_scalar.npy"), np.array(True))
    np.save(os.path.join(FUZZ, "npy", "f2_3.npy"), np.array([0.5, -1, 65504], dtype="<f2"))
    save_version(os.path.join(FUZZ, "npy", "v2_u8.npy"), np.arange(2, dtype="<u8"), (2, 0))
    np.savez(os.path.join(FUZZ, "npz", "stored.npz"), a=np.arange(3.0), b=np.array(1, dtype="<i2"))
    np.savez_compressed(os.path.join(FUZZ, "npz", "deflated.npz"), a=np.zeros((4, 4)))
    # A ZIP64 archive (what zipfile writes for members over 4 GiB), built by hand at small size.
    with open(os.path.join(FUZZ, "npz", "zip64.npz"), "wb") as f:
        f.write(zip64_archive(b"a.npy", npy_bytes(np.arange(4, dtype="<f4"))))

if __name__ == "__main__":
    main()
