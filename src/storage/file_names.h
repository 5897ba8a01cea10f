// Names of the files in a collection directory:
//   MANIFEST            the live segments and the WAL position they cover
//   wal-NNNNNN.log      write-ahead log files
//   seg-NNNNNN.pxs      immutable segments
//   seg-NNNNNN.pxc      the cold stub of a segment whose file is in the object store
// Numbers come from one counter per collection (the manifest's next_file_number).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace proximadb {

enum class FileKind { kWal, kSegment, kColdStub, kManifest, kTemp, kUnknown };

inline constexpr char kManifestName[] = "MANIFEST";

std::string WalFileName(uint64_t number);
std::string SegmentFileName(uint64_t number);
std::string ColdStubFileName(uint64_t number);
// Classifies a directory entry; `number` is set for WAL, segment and cold stub files.
FileKind ParseFileName(std::string_view name, uint64_t* number);

}  // namespace proximadb
