// CollectionImpl: the storage engine of one collection: write path (validation, group commit
// into the WAL, memtable apply), read path (pinned views), flush, compaction and recovery.
//
// State and invariants (all guarded by mu_ unless noted):
//   1. Sequence numbers: every committed batch gets last_seq_ + 1. A reader's snapshot is
//      last_seq_ when it pins its view; it sees row r iff insert_seq(r) <= S < deleted_seq(r)
//      (segment rows count as inserted before any snapshot that can see the segment).
//   2. Layers, newest first: mem_, imms_ (frozen memtables awaiting flush, newest at the back),
//      segments_. At most one live row per id across all layers: a put or delete marks the
//      previous live row deleted at its own sequence number before appending.
//   3. Durable state = manifest_ + WAL files numbered >= manifest_.wal_start. Every batch with
//      seq <= manifest_.covered_seq is in the segments (with its deletions in the manifest's
//      bitmaps); every later batch is in those WAL files. Recovery rebuilds exactly this.
//   4. Only the writer at the head of writers_ (the leader) touches the WAL or mutates layers'
//      rows; it drops mu_ while writing and syncing the WAL, so readers are never blocked by I/O.
//   5. Flush and compaction are serialized by bg_mu_ and change the layer lists only under mu_,
//      which never changes what any reader can see.
//   6. bg_error_, once set (a WAL write or sync failed, or a manifest switch may be half done),
//      fails every later write until the collection is reopened.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "env/env.h"
#include "proximadb/collection.h"
#include "storage/id_index.h"
#include "storage/manifest.h"
#include "storage/memtable.h"
#include "storage/segment.h"
#include "storage/wal.h"
#include "storage/write_batch.h"

namespace proximadb {

struct CollectionOptions {
  Env* env = nullptr;
  std::string dir;
  CollectionConfig config;
  Durability durability = Durability::kSync;
  uint32_t async_sync_interval_ms = 100;
  IdIndexKind id_index = IdIndexKind::kHashMap;
  WalStrategy wal_strategy = WalStrategy::kBinary;
};

class CollectionImpl final : public Collection {
 public:
  // Creates the directory and an empty manifest (durably).
  static absl::StatusOr<std::shared_ptr<CollectionImpl>> Create(const CollectionOptions& options);
  // Recovers from the manifest, the segments and the WAL.
  static absl::StatusOr<std::shared_ptr<CollectionImpl>> Open(const CollectionOptions& options);
  ~CollectionImpl() override;

  CollectionConfig config() const override ABSL_LOCKS_EXCLUDED(settings_mu_);
  // Takes the mutable settings (ef_search, flush policy) of `config`.
  void UpdateSettings(const CollectionConfig& config) ABSL_LOCKS_EXCLUDED(settings_mu_);
  const std::string& dir() const { return options_.dir; }
  absl::Status Write(std::vector<Record> records, WriteMode mode) override;
  absl::StatusOr<Record> Get(std::string_view id) override;
  absl::StatusOr<std::vector<Record>> GetMany(const std::vector<std::string>& ids) override;
  absl::StatusOr<uint64_t> Delete(const std::vector<std::string>& ids) override;
  absl::Status PatchMetadata(std::string_view id, std::string_view patch) override;
  absl::Status ReplaceMetadata(std::string_view id, std::string_view metadata) override;
  absl::StatusOr<uint64_t> Count(std::string_view filter) override;
  absl::StatusOr<uint64_t> DeleteWhere(std::string_view filter) override;
  absl::StatusOr<ScrollPage> Scroll(std::string_view after, uint32_t limit,
                                    std::string_view filter, bool include_vectors) override;
  absl::StatusOr<SearchResponse> Search(const SearchRequest& request) override;
  absl::Status Flush() override;
  absl::Status Compact() override;
  CollectionStats Stats() override;

  // For the background maintenance service.
  // True when a flush policy limit is reached; `priority` is the collection's flush_priority.
  bool FlushDue(int64_t now_us) ABSL_LOCKS_EXCLUDED(mu_);
  // Compacts if the segments call for it (many small ones, or many deleted rows).
  absl::Status MaybeCompact();
  // For the background indexer: inserts up to `max_rows` rows of the active memtable into its
  // graphs; returns how many (0 when it is caught up).
  uint32_t IndexMemtable(uint32_t max_rows) ABSL_LOCKS_EXCLUDED(mu_);
  // Stops writes (the collection was dropped); reads of pinned views stay valid.
  void MarkDropped();

 private:
  struct Writer;
  struct Frozen {
    std::shared_ptr<Memtable> mem;
    uint64_t last_seq;       // the snapshot at the freeze: mem holds exactly seqs up to here
    uint64_t wal_end;        // first WAL file that holds none of mem's batches
    uint64_t wal_bytes;      // bytes of the WAL files holding mem's batches
    int64_t oldest_write_us;
  };
  struct View {
    uint64_t seq;
    std::vector<std::shared_ptr<Memtable>> mems;  // active first, then frozen newest first
    std::vector<uint32_t> mem_rows;               // rows of each mem at pin time
    std::vector<std::shared_ptr<Segment>> segments;
  };
  // Where the live row of an id is.
  struct Location {
    Memtable* mem = nullptr;
    Segment* seg = nullptr;
    uint32_t row = 0;
    bool found() const { return mem != nullptr || seg != nullptr; }
    const float* vector() const { return mem ? mem->vector(row) : seg->vector(row); }
    std::string_view metadata() const { return mem ? mem->metadata(row) : seg->metadata(row); }
  };
  class Overlay;

  explicit CollectionImpl(const CollectionOptions& options);

  std::shared_ptr<Memtable> NewMemtable() const;
  absl::Status Recover();
  absl::Status ValidateRecord(Record& r) const;
  absl::Status Commit(Writer* w) ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status Resolve(Writer* w, Overlay* overlay, uint64_t seq, std::string* payload)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Applies a logged batch to the layers (live path and recovery alike).
  void ApplyDecoded(const DecodedBatch& batch) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Location FindLive(std::string_view id) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status FreezeLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status FlushFrozen() ABSL_EXCLUSIVE_LOCKS_REQUIRED(bg_mu_);
  absl::Status CompactSegments(std::vector<std::shared_ptr<Segment>> inputs)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(bg_mu_);
  absl::Status InstallManifest(const Manifest& m, const std::string& new_file)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(bg_mu_);
  ManifestSegment ManifestEntry(const Segment& s, uint64_t up_to_seq) const;
  // Finishes and fsyncs a new segment file, makes its name durable and opens it; on failure
  // the file is removed (no manifest names it yet).
  absl::StatusOr<std::shared_ptr<Segment>> FinishSegment(SegmentBuilder& builder,
                                                         const std::string& path,
                                                         uint64_t number);
  // The serialized HNSW graph over rows [0, rows) of contiguous `vectors`, holding the rows
  // `include` accepts; empty when the collection's indexing_algorithm is kFlat.
  std::string BuildGraph(const float* vectors, uint32_t rows,
                         absl::FunctionRef<bool(uint32_t)> include) const;
  void RemoveWalFilesBelow(uint64_t number);
  View PinView() const ABSL_LOCKS_EXCLUDED(mu_);
  void AsyncSyncLoop();
  absl::Status WriteError() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Invariant 6: records the first failure that makes the on-disk state uncertain, logs it, and
  // returns the error every later write gets.
  absl::Status StopWrites(std::string_view what, const absl::Status& cause)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const CollectionOptions options_;  // options_.config: as created; settings_ may differ
  mutable absl::Mutex settings_mu_;
  IndexParams index_settings_ ABSL_GUARDED_BY(settings_mu_);
  FlushPolicy flush_settings_ ABSL_GUARDED_BY(settings_mu_);
  Env* const env_;
  const uint32_t dim_;

  mutable absl::Mutex mu_;
  std::deque<Writer*> writers_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<Memtable> mem_ ABSL_GUARDED_BY(mu_);
  int64_t mem_oldest_write_us_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<Frozen> imms_ ABSL_GUARDED_BY(mu_);
  std::vector<std::shared_ptr<Segment>> segments_ ABSL_GUARDED_BY(mu_);
  uint64_t last_seq_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t live_count_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t next_file_number_ ABSL_GUARDED_BY(mu_) = 1;
  Manifest manifest_ ABSL_GUARDED_BY(mu_);
  absl::Status bg_error_ ABSL_GUARDED_BY(mu_);
  bool dropped_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t flushes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t compactions_ ABSL_GUARDED_BY(mu_) = 0;
  double flush_seconds_ ABSL_GUARDED_BY(mu_) = 0;
  double compaction_seconds_ ABSL_GUARDED_BY(mu_) = 0;
  std::atomic<uint64_t> wal_syncs_{0};  // successful WAL fsyncs since open

  // The current WAL file. Used by the leader without mu_ (invariant 4); replaced only by a
  // leader under mu_; the async syncer takes wal_mu_ to read it.
  absl::Mutex wal_mu_ ABSL_ACQUIRED_AFTER(mu_);
  std::unique_ptr<WalWriter> wal_;
  uint64_t wal_bytes_ ABSL_GUARDED_BY(mu_) = 0;  // in the current WAL file

  absl::Mutex bg_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  absl::Mutex index_mu_;  // one IndexMemtable at a time (Memtable::IndexRows' contract)

  absl::Mutex sync_mu_;
  bool stop_syncer_ ABSL_GUARDED_BY(sync_mu_) = false;
  std::thread syncer_;
};

}  // namespace proximadb
