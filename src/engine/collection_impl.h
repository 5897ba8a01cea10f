// CollectionImpl: the storage engine of one collection. Its parts, one file each:
//   collection_impl.cc  settings, stats, errors
//   recovery.cc         create, open (manifest, segments, WAL replay), close
//   write_path.cc       validation, group commit into the WAL, memtable apply
//   read_path.cc        pinned views and the reads over them (search.h does the work)
//   maintenance.cc      flush (freeze, segment, manifest) and compaction
// How segments are built, searched and compacted is the collection's SegmentStrategy's
// (storage/strategy.h); this class owns the sequencing, durability and visibility around it.
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
//   5. Manifest switches (flushes, the swaps of compactions and migrations, tier changes) are
//      serialized by bg_mu_ and change the layer lists only under mu_, which never changes what
//      any reader can see. Compactions and migrations build their output without bg_mu_.
//   6. bg_error_, once set (a WAL write or sync failed, or a manifest switch may be half done),
//      fails every later write until the collection is reopened.
#pragma once

#include <atomic>
#include <cstdint>
#include <chrono>
#include <deque>
#include <map>
#include <set>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "engine/cold_cache.h"
#include "engine/memory_budget.h"
#include "engine/record_checks.h"
#include "engine/search.h"
#include "env/env.h"
#include "proximadb/collection.h"
#include "storage/id_index.h"
#include "storage/manifest.h"
#include "storage/memtable.h"
#include "storage/object_store.h"
#include "storage/segment.h"
#include "storage/strategy.h"
#include "storage/wal.h"
#include "storage/write_batch.h"

namespace proximadb {

// What a record may hold: the server lowers these from its [api] settings; the engine's own
// ceilings are kMaxIdBytes and kMaxMetadataBytes (proximadb/collection.h).
struct RecordLimits {
  size_t max_id_bytes = kMaxIdBytes;
  size_t max_metadata_bytes = kMaxMetadataBytes;
};

inline int64_t NowMicros() { return absl::ToUnixMicros(absl::Now()); }

// When the database last served a search or a scanning read (count, scroll, delete by filter),
// shared by its collections, so that the background indexer knows whether the cores are idle.
// Written at most once a millisecond, not once per read: the cache line is shared by every
// reading thread.
struct SearchActivity {
  std::atomic<int64_t> last_us{0};
  void Record(int64_t now_us) {
    if (now_us - last_us.load(std::memory_order_relaxed) > 1000) {
      last_us.store(now_us, std::memory_order_relaxed);
    }
  }
  bool Within(int64_t now_us, int64_t window_us) const {
    return now_us - last_us.load(std::memory_order_relaxed) < window_us;
  }
};

struct CollectionOptions {
  Env* env = nullptr;
  // The MANIFEST; also the WAL and segments when the fields below leave them here.
  std::string dir;
  std::string wal_dir;  // new WAL files; empty: dir
  // New segments go to the one of these with the most free space that can take them (the next
  // when one is full); empty: dir. Segments already elsewhere stay where they are.
  std::vector<std::string> hot_dirs;
  std::vector<std::string> warm_dirs;  // searched for segments at open
  CollectionConfig config;
  Durability durability = Durability::kSync;
  uint32_t async_sync_interval_ms = 100;
  IdIndexKind id_index = IdIndexKind::kHashMap;
  WalStrategy wal_strategy = WalStrategy::kBinary;
  RecordLimits limits;
  int build_threads = 1;  // of a segment's graph build
  std::shared_ptr<SearchActivity> activity;  // the database's; may be null
  // WAL archiving for point-in-time restore (docs/backups.md): each WAL file the manifest has
  // covered is uploaded here before it is removed; null: not archived.
  ObjectStore* wal_archive = nullptr;
  // The cold tier (docs/storage.md#the-cold-tier): the object store cold segments go to and the
  // database's cache of them; null: no cold tier.
  ObjectStore* cold_store = nullptr;
  std::shared_ptr<ColdCache> cold_cache;
  // The database's memory budget of memtables; null: none.
  std::shared_ptr<MemoryBudget> budget;
};

// What a backup copies: the manifest as last installed and its segments, each pinned (so it stays
// readable whatever flushes and compactions do meanwhile), in the manifest's order.
struct DurableSnapshot {
  Manifest manifest;
  std::vector<std::shared_ptr<Segment>> segments;
  uint64_t live_rows = 0;  // the records the snapshot holds
  std::string collection_uid;  // the collection directory's name: its archived WAL's key
};

// The archive key of WAL file `number` of the collection in directory <uid> (wal_archive.cc).
std::string WalArchiveKey(std::string_view collection_dir_name, uint64_t number);
// The object key of cold segment `number` of the collection in directory <uid> (cold_tier.cc),
// and the prefix of all of that collection's.
std::string ColdSegmentKey(std::string_view collection_dir_name, uint64_t number);
std::string ColdSegmentPrefix(std::string_view collection_dir_name);

// Writes `bytes` as `dir`/`name` atomically and durably, in pieces (tiering.cc).
absl::Status WriteFileDurably(Env* env, std::string_view bytes, const std::string& dir,
                              const std::string& name);

// Creates a collection's directory <base>/collections/<uid> under an existing base, durably.
absl::Status EnsureDir(Env* env, const std::string& dir);

class CollectionImpl final : public Collection,
                             public std::enable_shared_from_this<CollectionImpl> {
 public:
  // Creates the directory and an empty manifest (durably).
  static absl::StatusOr<std::shared_ptr<CollectionImpl>> Create(const CollectionOptions& options);
  // Recovers from the manifest, the segments and the WAL.
  static absl::StatusOr<std::shared_ptr<CollectionImpl>> Open(const CollectionOptions& options);
  ~CollectionImpl() override;

  CollectionConfig config() const override ABSL_LOCKS_EXCLUDED(settings_mu_);
  // Takes the mutable settings (ef_search, rerank, flush policy) of `config`.
  void UpdateSettings(const CollectionConfig& config) ABSL_LOCKS_EXCLUDED(settings_mu_);
  const std::string& dir() const { return options_.dir; }
  // The name of dir() (<base>/collections/<uid>): the collection's keys in the object store.
  std::string Uid() const { return options_.dir.substr(options_.dir.rfind('/') + 1); }
  // Every directory that may hold the collection's files (placement.cc).
  std::vector<std::string> AllDirs() const;
  absl::Status Write(std::vector<Record> records, WriteMode mode) override;
  // Flushes every write acknowledged before the call, then pins the durable state: a
  // consistent snapshot of the collection as of the manifest's covered_seq.
  absl::StatusOr<DurableSnapshot> SnapshotForBackup() ABSL_LOCKS_EXCLUDED(bg_mu_, mu_);
  // Applies the tiering policy now (tiering.cc): segments unsearched for warm_after_hours move
  // to a warm directory, searched ones back to a hot one; an ultra_hot collection's segments
  // are locked in memory. Returns the first failure (the rest still ran).
  absl::Status ApplyTiering() override ABSL_LOCKS_EXCLUDED(tiering_mu_, bg_mu_, mu_);
  absl::StatusOr<Record> Get(std::string_view id) override;
  absl::StatusOr<std::vector<Record>> GetMany(const std::vector<std::string>& ids) override;
  absl::StatusOr<uint64_t> Delete(const std::vector<std::string>& ids) override;
  absl::StatusOr<PreparedBatch> PrepareWrite(std::vector<Record> records,
                                             WriteMode mode) override;
  absl::StatusOr<PreparedBatch> PrepareDelete(const std::vector<std::string>& ids) override;
  absl::StatusOr<PreparedBatch> PreparePatch(std::string_view id,
                                             std::string_view patch) override;
  absl::StatusOr<PreparedBatch> PrepareReplace(std::string_view id,
                                               std::string_view metadata) override;
  absl::StatusOr<PreparedBatch> PrepareDeleteWhere(std::string_view filter) override;
  absl::Status ApplyReplicated(std::string_view batch, uint64_t seq) override;
  absl::Status PatchMetadata(std::string_view id, std::string_view patch) override;
  absl::Status ReplaceMetadata(std::string_view id, std::string_view metadata) override;
  absl::StatusOr<uint64_t> Count(std::string_view filter) override;
  absl::StatusOr<uint64_t> DeleteWhere(std::string_view filter) override;
  absl::StatusOr<ScrollPage> Scroll(std::string_view after, uint32_t limit,
                                    std::string_view filter, bool include_vectors) override;
  absl::StatusOr<SearchResponse> Search(const SearchRequest& request) override;
  absl::Status Flush() override;
  absl::Status Compact() override;
  absl::Status Migrate() override ABSL_LOCKS_EXCLUDED(rewrite_mu_, bg_mu_, mu_);
  CollectionStats Stats() override;
  std::vector<MaintenanceEvent> History() override ABSL_LOCKS_EXCLUDED(history_mu_);

  // migration.cc: takes the layout (storage_strategy, indexing_algorithm, quantization, pq_m,
  // metadata_compression) of `config`: new segments get it at once, existing ones at the next
  // Migrate.
  absl::Status ChangeLayout(const CollectionConfig& config) ABSL_LOCKS_EXCLUDED(mu_);
  // Whether some segment does not have the collection's layout yet (or a rewrite runs).
  bool MigrationInProgress() const ABSL_LOCKS_EXCLUDED(mu_);

  // For the background maintenance service.
  // True when a limit of the flush policy is reached (or a failed flush is to be retried).
  bool FlushDue(int64_t now_us) ABSL_LOCKS_EXCLUDED(mu_);
  // Bytes of the memtables (active and frozen), as last reported to the memory budget.
  int64_t MemtableBytes() const ABSL_LOCKS_EXCLUDED(mu_);
  // Reports the memtables' bytes to the budget again (the indexer grows them between writes).
  void AccountMemory() ABSL_LOCKS_EXCLUDED(mu_);
  // Past the memory budget: flushes the collections of `all` with the largest memtables until
  // under it (the maintenance thread, at each pass).
  static void ReleaseMemory(MemoryBudget& budget,
                            const std::vector<std::shared_ptr<CollectionImpl>>& all);
  // Compacts if the strategy's policy calls for it.
  absl::Status MaybeCompact();
  // For the background indexer: files the active memtable's new rows into its IVF lists
  // (Memtable::FileRows), then inserts up to `max_rows` rows into its graph, on build_threads
  // threads while no read ran in the last second, else on one fewer (at least one); returns
  // how many rows it filed and inserted (0 when it is caught up).
  uint32_t IndexMemtable(uint32_t max_rows) ABSL_LOCKS_EXCLUDED(mu_);
  // Notes a search or scanning read for the indexer (SearchActivity).
  void RecordRead() {
    if (options_.activity) options_.activity->Record(NowMicros());
  }
  // Stops writes (the collection was dropped); reads of pinned views stay valid. A compaction
  // or migration under way is given up first (CancelRewrites), not waited for to the end.
  void MarkDropped();
  // Gives up the compaction or migration under way and any that starts later: their segment
  // builds stop before their next graph insert or stage and remove their output, and they fail
  // with RewritesGivenUp(). A drop's reason outlasts a close's.
  void CancelRewrites(bool dropped);
  bool RewritesCancelled() const { return cancel_rewrites_.load(std::memory_order_acquire); }
  // What a rewrite given up returns: UNAVAILABLE (the database is closing; the background
  // picks it again after the next open), or for a drop the drop's error.
  absl::Status RewritesGivenUp() const;
  // cold_tier.cc: after a drop, deletes the collection's cold objects and cached files; the
  // first failure (the rest still ran).
  absl::Status DropColdTier() ABSL_LOCKS_EXCLUDED(tiering_mu_, fetch_mu_, mu_);

 private:
  struct Writer;
  struct Frozen {
    std::shared_ptr<Memtable> mem;
    uint64_t last_seq;       // the snapshot at the freeze: mem holds exactly seqs up to here
    uint64_t wal_end;        // first WAL file that holds none of mem's batches
    uint64_t wal_bytes;      // bytes of the WAL files holding mem's batches
    int64_t oldest_write_us;
  };
  class Overlay;

  CollectionImpl(const CollectionOptions& options, std::shared_ptr<const SegmentStrategy> strategy);

  // recovery.cc
  absl::Status Recover();
  // The collection's files as recovery finds them: WAL files (number, directory) in order, and
  // the directories holding each live segment (more than one after an interrupted move).
  struct FoundFiles {
    std::vector<std::pair<uint64_t, std::string>> wal;
    std::map<uint64_t, std::vector<std::string>> segments;
  };
  absl::Status RemoveLeftovers(FoundFiles* found) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status OpenSegments(const FoundFiles& found) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status ReplayWal(const FoundFiles& found) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AsyncSyncLoop();

  // write_path.cc
  // What record_checks.h checks a record to write against, from this collection's settings.
  RecordRules Rules() const;
  // Resolves `w` against the state as of last_seq_, without logging or applying it.
  absl::StatusOr<PreparedBatch> Prepare(Writer* w) ABSL_LOCKS_EXCLUDED(mu_);
  // `w` (kPatch or kReplace) for `metadata` of `id`, checked; a replacement's canonical text
  // goes to `canonical`, which must outlive `w`.
  absl::Status MetadataWriter(std::string_view id, std::string_view metadata,
                              std::string* canonical, Writer* w);
  // The live ids `filter` matches (kInvalidArgument for an empty filter: DeleteWhere's), and
  // the sequence of the view they were read from.
  absl::StatusOr<std::vector<std::string>> MatchingIds(const Filter& filter,
                                                       uint64_t* read_at = nullptr);
  // The payload of a replicated batch that is to be sequence `seq` (Writer::Kind::kApply).
  absl::Status CheckReplicated(Writer* w, uint64_t seq, std::string* payload) const;
  // kInvalidArgument naming the record unless `bytes` of metadata fit the limit.
  absl::Status CheckMetadataSize(std::string_view id, size_t bytes) const;
  absl::Status Commit(Writer* w) ABSL_LOCKS_EXCLUDED(mu_);
  // Commit for a write that adds rows: refused while the memory budget is exceeded twice
  // (MemoryBudget::Admit), and wakes its flusher once over the budget.
  absl::Status CommitWithinBudget(Writer* w) ABSL_LOCKS_EXCLUDED(mu_);
  // Freezes the memtable in the commit order: every write acknowledged before is in it.
  absl::Status Freeze() ABSL_LOCKS_EXCLUDED(mu_);
  // Writes the group's batches to the WAL (mu_ released meanwhile) and applies them.
  void LogAndApply(const std::vector<Writer*>& group) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The error of a group a full disk refused (INSUFFICIENT_STORAGE), once `rewind` undid its
  // append; `rewind`'s own error if it could not.
  absl::Status DiskFull(const absl::Status& append, const absl::Status& rewind);
  // Tells the budget what the memtables hold now.
  void AccountMemoryLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Resolve(Writer* w, Overlay* overlay, uint64_t seq, std::string* payload)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Applies a logged batch to the layers (live path and recovery alike).
  void ApplyDecoded(const DecodedBatch& batch) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Where the live row of an id is (invariant 2: at most one); layer is null for none.
  struct LiveRow {
    Layer* layer = nullptr;
    uint32_t row = 0;
    bool found() const { return layer != nullptr; }
  };
  LiveRow FindLive(std::string_view id) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Deletes the ids that exist and, with `still_matching`, whose live record matches it when
  // the batch commits (a record re-written since the caller selected it may no longer).
  absl::StatusOr<uint64_t> Delete(const std::vector<std::string>& ids,
                                  const Filter* still_matching);

  // read_path.cc
  ReadView PinView() const ABSL_LOCKS_EXCLUDED(mu_);

  // maintenance.cc
  absl::Status FreezeLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Writes the oldest frozen memtable as a segment (nothing if there is none), and lists the
  // flush in History.
  absl::Status FlushFrozen() ABSL_EXCLUSIVE_LOCKS_REQUIRED(bg_mu_);
  // FlushFrozen's work, filling in *event: false if there was no frozen memtable.
  absl::StatusOr<bool> WriteFrozen(MaintenanceEvent* event) ABSL_EXCLUSIVE_LOCKS_REQUIRED(bg_mu_);
  // Adds a flush, compaction or migration that began at `start` to History, with its
  // duration and, if it failed, `status`.
  void AddToHistory(MaintenanceEvent event, std::chrono::steady_clock::time_point start,
                    const absl::Status& status) ABSL_LOCKS_EXCLUDED(history_mu_);
  using SegmentGroup = std::vector<std::shared_ptr<Segment>>;
  // Writes each group's live rows as one new segment with `strategy`, calling built_one after
  // each, then swaps them in with one manifest change (each output in the place of its group's
  // first input); returns how many groups went in, and adds to *event the segments, rows and
  // bytes of those. Deletions that arrive meanwhile follow
  // their rows. The building runs without bg_mu_, so that flushes go on; the swap (SwapIn)
  // takes it, and gives up a group (its output removed) if a tier change replaced one of its
  // inputs meanwhile.
  absl::StatusOr<size_t> RewriteSegments(const std::vector<SegmentGroup>& groups,
                                         const SegmentStrategy& strategy,
                                         absl::FunctionRef<void()> built_one,
                                         MaintenanceEvent* event)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(rewrite_mu_) ABSL_LOCKS_EXCLUDED(bg_mu_);
  // RewriteSegments' swap of the groups whose inputs are all still there (*intact, set before
  // the manifest changes; all false if writes have stopped).
  absl::Status SwapIn(const std::vector<SegmentGroup>& groups,
                      const std::vector<std::vector<SegmentRow>>& rows,
                      const std::vector<std::shared_ptr<Segment>>& outs,
                      std::vector<bool>* intact) ABSL_LOCKS_EXCLUDED(bg_mu_, mu_);
  absl::Status CompactSegments(SegmentGroup inputs) ABSL_EXCLUSIVE_LOCKS_REQUIRED(rewrite_mu_);
  // Whether every segment of `group` is still in segments_ (the same object).
  bool AllPresentLocked(const SegmentGroup& group) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // migration.cc: the segments whose layout is not the collection's.
  SegmentGroup UnmigratedLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Compacts what the strategy picks (everything, when `forced`).
  absl::Status PickAndCompact(bool forced) ABSL_LOCKS_EXCLUDED(rewrite_mu_, bg_mu_, mu_);
  // Writes `m` as the manifest; on a failure that changed nothing, removes `new_segments` (which
  // only `m` names), and on one that may have half changed it, stops writes (invariant 6).
  absl::Status InstallManifest(const Manifest& m, const std::vector<const Segment*>& new_segments)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(bg_mu_);
  // Removes the WAL files numbered below `number`; with an archive, only those uploaded to it
  // (the others stay until a later call uploads them).
  void RemoveWalFilesBelow(uint64_t number);
  // wal_archive.cc: uploads the WAL files below `number` not uploaded yet; the first failure.
  absl::Status ArchiveWalBelow(uint64_t number);

  // placement.cc: where the WAL goes, and where segments may be; the latter in order of
  // preference when one segment is found in several (an interrupted move).
  const std::string& WalDir() const;
  // WalDir(), dir, and the WAL directories of earlier opens that still hold WAL files (a
  // changed wal_directory), which the WAL_DIRS file in dir lists.
  std::vector<std::string> WalDirs() const;
  absl::Status LoadWalDirs();
  // Rewrites WAL_DIRS: WalDir() and the earlier directories that still hold `wal` files.
  absl::Status SaveWalDirs(const std::vector<std::pair<uint64_t, std::string>>& wal);
  std::vector<std::string> SegmentDirs() const;
  // Builds segment `number` in the hot directory with the most free space, trying the next
  // when a directory is full (kResourceExhausted); kCancelled once `*cancel` is true.
  absl::StatusOr<std::shared_ptr<Segment>> BuildPlaced(const SegmentStrategy& strategy,
                                                       uint64_t number,
                                                       std::vector<SegmentRow>& rows,
                                                       const std::atomic<bool>* cancel);
  // `dirs` (created if missing) with the most free space first; those that fail are logged
  // and left out.
  std::vector<std::pair<uint64_t, std::string>> ByFreeSpace(const std::vector<std::string>& dirs);
  bool InWarmDir(const Segment& segment) const;

  // tiering.cc: copies `segment` into the first of `dirs` that takes it, opens the copy,
  // swaps it in and removes the original.
  absl::Status MoveSegment(const std::shared_ptr<Segment>& segment,
                           const std::vector<std::string>& dirs)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(tiering_mu_) ABSL_LOCKS_EXCLUDED(bg_mu_, mu_);

  // cold_tier.cc: the cold tier (docs/storage.md#the-cold-tier).
  // Segment `number`'s object key, which also names it in the cache.
  std::string ColdKey(uint64_t number) const;
  // The whole file of the cold segment whose stub is `stub`, from the object store, checked
  // against the size the manifest gives.
  absl::StatusOr<std::string> Download(const Segment& stub);
  // Uploads `segment`'s file, writes its stub beside it, records it as cold in the manifest,
  // swaps the stub in, and only then removes the local file.
  absl::Status GoCold(const std::shared_ptr<Segment>& segment)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(tiering_mu_) ABSL_LOCKS_EXCLUDED(fetch_mu_, bg_mu_, mu_);
  // Brings cold `segment` (its stub or cached file) back into the first of `dirs` that takes
  // it: downloaded, durable, recorded in the manifest, swapped in; then the stub, the cached
  // file and the object go.
  absl::Status GoLocal(const std::shared_ptr<Segment>& segment,
                       const std::vector<std::string>& dirs)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(tiering_mu_) ABSL_LOCKS_EXCLUDED(fetch_mu_, bg_mu_, mu_);
  // The segment `number` with its vectors: the live one when it has them, else the cold
  // segment's whole file fetched into the cache and swapped in for its stub. kUnavailable
  // (OBJECT_STORE_UNAVAILABLE) when the object store cannot be read.
  absl::StatusOr<std::shared_ptr<const Segment>> FetchCold(uint64_t number)
      ABSL_LOCKS_EXCLUDED(fetch_mu_, mu_);
  // Cache eviction: swaps the stub of segment `number` back in and removes the cached file
  // `path`, unless another file of it is in use by then.
  void Uncache(uint64_t number, const std::string& path) ABSL_LOCKS_EXCLUDED(fetch_mu_, mu_);
  // Replaces every cold stub in `view` by its whole file (fetched if need be), for a read that
  // needs vectors; marks the cached ones as used.
  absl::Status FetchView(ReadView* view) ABSL_LOCKS_EXCLUDED(fetch_mu_, mu_);
  // The whole file of the segment of `id`'s live row if that is a cold stub (before a metadata
  // update, which keeps the vector); else null.
  absl::StatusOr<std::shared_ptr<const Segment>> FetchColdOf(std::string_view id)
      ABSL_LOCKS_EXCLUDED(fetch_mu_, mu_);
  // Deletes the objects under the collection's cold prefix that the manifest does not name
  // (what an interrupted tier change left).
  absl::Status CollectColdGarbage() ABSL_EXCLUSIVE_LOCKS_REQUIRED(tiering_mu_);
  // The slot of segment `number` in segments_, or nullptr.
  std::shared_ptr<Segment>* SlotLocked(uint64_t number) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The segments that are not cold (compaction and migration leave cold ones alone).
  std::vector<std::shared_ptr<Segment>> LocalSegmentsLocked() const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // collection_impl.cc
  absl::Status WriteError() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Invariant 6: records the first failure that makes the on-disk state uncertain, logs it, and
  // returns the error every later write gets.
  absl::Status StopWrites(std::string_view what, const absl::Status& cause)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // kNotFound: `id` is not in this collection.
  absl::Status NotFound(std::string_view id) const;

  // The strategy of the current layout; searches and maintenance take a reference each.
  std::shared_ptr<const SegmentStrategy> strategy() const ABSL_LOCKS_EXCLUDED(strategy_mu_) {
    absl::MutexLock l(&strategy_mu_);
    return strategy_;
  }

  // options_.config: as opened; the settings and the layout may have changed since.
  const CollectionOptions options_;
  mutable absl::Mutex strategy_mu_;
  std::shared_ptr<const SegmentStrategy> strategy_ ABSL_GUARDED_BY(strategy_mu_);
  mutable absl::Mutex settings_mu_;
  IndexParams index_settings_ ABSL_GUARDED_BY(settings_mu_);
  uint32_t rerank_ ABSL_GUARDED_BY(settings_mu_);
  // The layout fields (storage_strategy, indexing_algorithm, quantization kind and pq_m,
  // metadata_compression) of the configuration, as ChangeLayout last set them.
  CollectionConfig layout_ ABSL_GUARDED_BY(settings_mu_);
  FlushPolicy flush_settings_ ABSL_GUARDED_BY(settings_mu_);
  TieringPolicy tiering_ ABSL_GUARDED_BY(settings_mu_);
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
  // Set by recovery, before any other thread runs.
  std::vector<std::string> earlier_wal_dirs_;
  std::set<uint64_t> archived_wal_;  // WAL files in the archive; guarded by bg_mu_
  absl::Mutex tiering_mu_ ABSL_ACQUIRED_BEFORE(fetch_mu_);  // one ApplyTiering at a time
  bool resident_failed_ ABSL_GUARDED_BY(tiering_mu_) = false;  // ultra_hot's last mlock failed
  // Set at open and after a failed tier change: look for orphaned cold objects.
  bool cold_gc_due_ ABSL_GUARDED_BY(tiering_mu_) = true;
  // Swaps between a cold segment's stub and its cached file (and the cache's count of them)
  // happen one at a time, and not during a tier change's manifest switch. Downloads run
  // without it.
  absl::Mutex fetch_mu_ ABSL_ACQUIRED_BEFORE(bg_mu_);
  // The stub of every cold segment, by number (in segments_ unless its whole file is cached).
  std::map<uint64_t, std::shared_ptr<Segment>> cold_stubs_ ABSL_GUARDED_BY(mu_);
  std::atomic<bool> any_cold_{false};  // !cold_stubs_.empty(), read without mu_
  std::atomic<uint64_t> fetches_{0};   // names each fetch's cache file
  absl::Status bg_error_ ABSL_GUARDED_BY(mu_);
  bool dropped_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t flushes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t compactions_ ABSL_GUARDED_BY(mu_) = 0;
  bool migration_running_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t migration_done_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t migration_total_ ABSL_GUARDED_BY(mu_) = 0;
  double flush_seconds_ ABSL_GUARDED_BY(mu_) = 0;
  double compaction_seconds_ ABSL_GUARDED_BY(mu_) = 0;
  std::atomic<uint64_t> wal_syncs_{0};  // successful WAL fsyncs since open; relaxed: a counter
  absl::Mutex history_mu_;  // a leaf: taken with or without any other
  std::deque<MaintenanceEvent> history_ ABSL_GUARDED_BY(history_mu_);  // newest first

  // The current WAL file. Used by the leader without mu_ (invariant 4); replaced only by a
  // leader under mu_; the async syncer takes wal_mu_ to read it.
  absl::Mutex wal_mu_ ABSL_ACQUIRED_AFTER(mu_);
  std::unique_ptr<WalWriter> wal_;
  uint64_t wal_bytes_ ABSL_GUARDED_BY(mu_) = 0;  // in the current WAL file
  int64_t budget_bytes_ ABSL_GUARDED_BY(mu_) = 0;  // reported to options_.budget

  // One compaction or migration at a time; they hold bg_mu_ only to swap their outputs in.
  absl::Mutex rewrite_mu_ ABSL_ACQUIRED_BEFORE(bg_mu_);
  std::atomic<bool> cancel_rewrites_{false};  // CancelRewrites; stored after the reason
  std::atomic<bool> rewrites_dropped_{false};  // the reason: a drop (else a close)
  // Flushes, the manifest switches of all kinds, and whatever needs the segment list to hold
  // still across them (tier changes, backups' snapshots, a drop).
  absl::Mutex bg_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  absl::Mutex index_mu_;  // one IndexMemtable at a time

  absl::Mutex sync_mu_;
  bool stop_syncer_ ABSL_GUARDED_BY(sync_mu_) = false;
  std::thread syncer_;
};

}  // namespace proximadb
