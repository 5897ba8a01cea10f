// The manifest: the durable root of a collection's storage. It lists the live segments (with
// the rows deleted since each was written) and the WAL position they cover. Recovery is: read
// the manifest, open its segments, replay WAL files from `wal_start` on, skipping batches with
// seq <= covered_seq. Format in docs/manifest_format.md.
//
// It is replaced as a whole: MANIFEST.tmp is written and fsynced, renamed over MANIFEST, and the
// directory is fsynced, so after a crash the old or the new manifest is in place, never a mix.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "env/env.h"

namespace proximadb {

// Version 2 added each segment's cold_bytes; version 1 files (without) are still read.
inline constexpr uint32_t kManifestFormatVersion = 2;

struct ManifestSegment {
  uint64_t number = 0;
  uint32_t num_rows = 0;
  std::vector<uint32_t> deleted_rows;  // ascending; rows deleted after the segment was written
  // 0: the segment's file is on local disk. Else it is in the cold tier: the whole file, of
  // this many bytes, is in the object store and a cold stub (seg-NNNNNN.pxc) on local disk.
  uint64_t cold_bytes = 0;

  bool operator==(const ManifestSegment&) const = default;
};

struct Manifest {
  uint64_t next_file_number = 1;  // for new WAL and segment files
  uint64_t covered_seq = 0;       // every batch with seq <= covered_seq is in the segments
  uint64_t wal_start = 0;         // WAL files numbered below this are covered and may go
  std::vector<ManifestSegment> segments;  // oldest first

  bool operator==(const Manifest&) const = default;
};

std::string EncodeManifest(const Manifest& m);
// kDataLoss naming `name` when the bytes are damaged.
absl::StatusOr<Manifest> DecodeManifest(std::string_view bytes, std::string_view name);

// kNotFound when the directory has no manifest.
absl::StatusOr<Manifest> ReadManifest(Env* env, const std::string& dir);

// Replaces the manifest in `dir`. `*installed` tells the caller, on failure, whether the rename
// happened: then the new manifest may be the durable one and every file it names must be kept.
absl::Status WriteManifest(Env* env, const std::string& dir, const Manifest& m, bool* installed);

}  // namespace proximadb
