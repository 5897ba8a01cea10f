// CollectionImpl: the cold tier (docs/storage.md#the-cold-tier). A cold segment's whole file is
// an object in the object store; on local disk it has a stub (the file without its vectors and
// graph: ids, metadata, codes, field indexes), which answers gets without vectors, counts,
// filters and deletions. A read that needs its vectors fetches the whole file into the
// database's cache (ColdCache) and swaps it in for the stub; the cache evicts it later by
// swapping the stub back. The stub and the cached file share one deletion state, so a reader
// holding either sees every deletion.
//
// Going cold: upload (confirmed), stub written and durable, manifest says cold, stub swapped in,
// local file removed. Coming back: file downloaded into a hot or warm directory and durable,
// manifest says local, file swapped in, then stub, cached file and object removed. A crash
// between two steps leaves a file or an object that nothing names: recovery removes the files,
// CollectColdGarbage the objects.
#include <algorithm>

#include "common/errors.h"
#include "common/logging.h"
#include "common/macros.h"
#include "common/strings.h"
#include "engine/collection_impl.h"
#include "storage/file_names.h"

namespace proximadb {

std::string ColdSegmentPrefix(std::string_view collection_dir_name) {
  return Cat("cold/", collection_dir_name, "/");
}

std::string ColdSegmentKey(std::string_view collection_dir_name, uint64_t number) {
  return ColdSegmentPrefix(collection_dir_name) + SegmentFileName(number);
}

std::string CollectionImpl::ColdKey(uint64_t number) const {
  return ColdSegmentKey(Uid(), number);
}

absl::StatusOr<std::string> CollectionImpl::Download(const Segment& stub) {
  const std::string key = ColdKey(stub.number());
  PROXIMADB_ASSIGN_OR_RETURN(std::string bytes, options_.cold_store->Get(key));
  if (bytes.size() != stub.cold_bytes()) {
    return absl::DataLossError(Cat("cold segment ", key, " has ", bytes.size(),
                                   " bytes, the manifest says ", stub.cold_bytes()));
  }
  return bytes;
}

std::shared_ptr<Segment>* CollectionImpl::SlotLocked(uint64_t number) {
  for (std::shared_ptr<Segment>& s : segments_) {
    if (s->number() == number) return &s;
  }
  return nullptr;
}

std::vector<std::shared_ptr<Segment>> CollectionImpl::LocalSegmentsLocked() const {
  std::vector<std::shared_ptr<Segment>> out;
  for (const auto& s : segments_) {
    if (s->cold_bytes() == 0) out.push_back(s);
  }
  return out;
}

absl::Status CollectionImpl::GoCold(const std::shared_ptr<Segment>& segment) {
  const uint64_t number = segment->number();
  const std::string_view bytes = segment->file_bytes();
  // The stub first (it checks the segment, and a full disk fails here, before any upload).
  PROXIMADB_ASSIGN_OR_RETURN(std::string stub_bytes, MakeColdStub(bytes, segment->path()));
  const std::string dir = segment->path().substr(0, segment->path().rfind('/'));
  PROXIMADB_RETURN_IF_ERROR(WriteFileDurably(env_, stub_bytes, dir, ColdStubFileName(number)));
  const std::string stub_path = JoinPath(dir, ColdStubFileName(number));
  auto give_up = [&](absl::Status s) {  // the stub is garbage; an uploaded object an orphan
    env_->RemoveFile(stub_path).IgnoreError();
    return s;
  };
  absl::StatusOr<std::shared_ptr<Segment>> stub =
      Segment::Open(env_, stub_path, number, dim_, options_.config.metric);
  if (!stub.ok()) return give_up(stub.status());
  (*stub)->ShareDeletions(*segment);
  (*stub)->set_cold_bytes(bytes.size());
  (*stub)->set_last_search_us(segment->last_search_us());
  // Confirmed by the store (MD5 per request or part) before the manifest changes.
  const std::string key = ColdKey(number);
  if (absl::Status s = options_.cold_store->Put(key, bytes); !s.ok()) return give_up(s);

  absl::MutexLock fetch(&fetch_mu_);
  absl::MutexLock bg(&bg_mu_);  // the manifest changes only under it
  Manifest m;
  {
    absl::MutexLock l(&mu_);
    std::shared_ptr<Segment>* slot = SlotLocked(number);
    if (dropped_ || slot == nullptr || *slot != segment) {  // compacted or dropped meanwhile
      options_.cold_store->Delete(key).IgnoreError();  // else the next pass collects it
      return give_up(absl::OkStatus());
    }
    m = manifest_;
  }
  for (ManifestSegment& e : m.segments) {
    if (e.number == number) e.cold_bytes = bytes.size();
  }
  // On a failure after the rename, writes stop and so does tiering (the object stays: the
  // durable manifest may name it).
  PROXIMADB_RETURN_IF_ERROR(InstallManifest(m, {stub->get()}));
  {
    absl::MutexLock l(&mu_);
    manifest_ = m;
    *SlotLocked(number) = *stub;
    cold_stubs_[number] = *stub;
    any_cold_.store(true, std::memory_order_relaxed);
  }
  // Readers holding a view keep the local file's mapping until they finish.
  env_->RemoveFile(segment->path()).IgnoreError();
  return absl::OkStatus();
}

absl::Status CollectionImpl::GoLocal(const std::shared_ptr<Segment>& segment,
                                     const std::vector<std::string>& dirs) {
  const uint64_t number = segment->number();
  std::shared_ptr<Segment> stub;
  {
    absl::MutexLock l(&mu_);
    auto it = cold_stubs_.find(number);
    if (it == cold_stubs_.end()) return absl::OkStatus();  // not cold any more
    stub = it->second;
  }
  std::string downloaded;  // the object, unless the whole file is in the cache
  if (segment->cold_stub()) {
    PROXIMADB_ASSIGN_OR_RETURN(downloaded, Download(*stub));
  }
  const std::string_view bytes = segment->cold_stub() ? downloaded : segment->file_bytes();
  const std::string name = SegmentFileName(number);
  absl::Status last = absl::ResourceExhaustedError(
      Cat("cold segment ", name, ": no directory to bring it back to could be used"));
  for (const auto& [free, dir] : ByFreeSpace(dirs)) {
    last = WriteFileDurably(env_, bytes, dir, name);
    if (absl::IsResourceExhausted(last)) continue;  // that disk is full: the next one
    PROXIMADB_RETURN_IF_ERROR(last);
    absl::StatusOr<std::shared_ptr<Segment>> local = strategy()->OpenSegment(dir, number);
    if (!local.ok()) {
      env_->RemoveFile(JoinPath(dir, name)).IgnoreError();
      return local.status();
    }
    (*local)->ShareDeletions(*stub);
    (*local)->set_last_search_us(segment->last_search_us());

    absl::MutexLock fetch(&fetch_mu_);
    absl::MutexLock bg(&bg_mu_);
    Manifest m;
    {
      absl::MutexLock l(&mu_);
      if (dropped_ || !cold_stubs_.contains(number)) {
        env_->RemoveFile(JoinPath(dir, name)).IgnoreError();
        return absl::OkStatus();
      }
      m = manifest_;
    }
    for (ManifestSegment& e : m.segments) {
      if (e.number == number) e.cold_bytes = 0;
    }
    PROXIMADB_RETURN_IF_ERROR(InstallManifest(m, {local->get()}));
    std::shared_ptr<Segment> cached;
    {
      absl::MutexLock l(&mu_);
      manifest_ = m;
      std::shared_ptr<Segment>* slot = SlotLocked(number);
      PROXIMADB_CHECK(slot != nullptr);  // cold segments are not compacted
      if (!(*slot)->cold_stub()) cached = *slot;
      *slot = *local;
      cold_stubs_.erase(number);
      any_cold_.store(!cold_stubs_.empty(), std::memory_order_relaxed);
    }
    if (cached != nullptr) {
      options_.cold_cache->Remove(ColdKey(number));
      env_->RemoveFile(cached->path()).IgnoreError();
    }
    env_->RemoveFile(stub->path()).IgnoreError();
    if (absl::Status s = options_.cold_store->Delete(ColdKey(number)); !s.ok()) {
      cold_gc_due_ = true;  // an orphan now: collected at the next pass
    }
    return absl::OkStatus();
  }
  return last;
}

absl::StatusOr<std::shared_ptr<const Segment>> CollectionImpl::FetchCold(uint64_t number) {
  std::shared_ptr<Segment> stub;
  {
    absl::MutexLock l(&mu_);
    std::shared_ptr<Segment>* slot = SlotLocked(number);
    if (slot == nullptr) {
      return absl::AbortedError(Cat("collection '", options_.config.name, "': segment ",
                                    number, " went away during the read; retry"));
    }
    if ((*slot)->has_vectors()) return *slot;  // cached meanwhile, or brought back
    stub = *slot;
  }
  // The download takes no lock: other reads, fetches and evictions go on. Two reads of one
  // segment may both fetch it; each writes a file of its own, and one is kept.
  PROXIMADB_ASSIGN_OR_RETURN(std::string bytes, Download(*stub));
  // Not made durable: the cache is emptied at every open.
  const std::string dir = options_.cold_cache->DirFor(Uid());
  const std::string path = JoinPath(
      dir, ColdCache::FileName(SegmentFileName(number),
                               fetches_.fetch_add(1, std::memory_order_relaxed)));
  PROXIMADB_RETURN_IF_ERROR(env_->CreateDirs(dir));
  {
    PROXIMADB_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file, env_->NewWritableFile(path));
    absl::Status s = file->Append(bytes);
    if (s.ok()) s = file->Close();
    if (!s.ok()) {
      env_->RemoveFile(path).IgnoreError();
      return s;
    }
  }
  absl::StatusOr<std::shared_ptr<Segment>> whole =
      Segment::Open(env_, path, number, dim_, options_.config.metric);
  if (!whole.ok()) {
    env_->RemoveFile(path).IgnoreError();
    return whole.status();
  }
  (*whole)->ShareDeletions(*stub);
  (*whole)->set_cold_bytes(stub->cold_bytes());
  (*whole)->set_last_search_us(stub->last_search_us());
  std::vector<ColdCache::Evict> victims;
  {
    absl::MutexLock fetch(&fetch_mu_);
    {
      absl::MutexLock l(&mu_);
      std::shared_ptr<Segment>* slot = SlotLocked(number);
      if (slot == nullptr || *slot != stub) {  // another fetch won, or it went away
        env_->RemoveFile(path).IgnoreError();  // this read keeps the mapping
        if (slot != nullptr && (*slot)->has_vectors()) return *slot;
        return *whole;
      }
      *slot = *whole;
    }
    std::weak_ptr<CollectionImpl> self = weak_from_this();
    victims = options_.cold_cache->Add(ColdKey(number), (*whole)->file_size(),
                                       [self, number, path] {
                                         if (auto c = self.lock()) c->Uncache(number, path);
                                       });
  }
  for (const ColdCache::Evict& evict : victims) evict();  // may be this collection's: unlocked
  return *whole;
}

void CollectionImpl::Uncache(uint64_t number, const std::string& path) {
  absl::MutexLock fetch(&fetch_mu_);
  std::shared_ptr<Segment> whole;
  {
    absl::MutexLock l(&mu_);
    std::shared_ptr<Segment>* slot = SlotLocked(number);
    auto stub = cold_stubs_.find(number);
    // Only the file this eviction was for: a later fetch's file has an entry of its own.
    if (slot == nullptr || (*slot)->path() != path || stub == cold_stubs_.end()) return;
    stub->second->set_last_search_us((*slot)->last_search_us());
    whole = std::exchange(*slot, stub->second);
  }
  // Readers holding a view keep the mapping until they finish.
  env_->RemoveFile(whole->path()).IgnoreError();
}

absl::Status CollectionImpl::FetchView(ReadView* view) {
  // The stubs by what each layer says, not by any_cold_, which a concurrent change may have
  // cleared since the view was pinned.
  const bool touch = any_cold_.load(std::memory_order_relaxed);
  for (ReadView::Entry& e : view->layers) {
    if (!e.layer->has_vectors()) {  // only segments are stubs
      PROXIMADB_ASSIGN_OR_RETURN(
          e.layer, FetchCold(static_cast<const Segment*>(e.layer.get())->number()));
      continue;
    }
    const auto* segment = touch ? dynamic_cast<const Segment*>(e.layer.get()) : nullptr;
    if (segment != nullptr && segment->cold_bytes() != 0) {
      options_.cold_cache->Touch(ColdKey(segment->number()));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const Segment>> CollectionImpl::FetchColdOf(std::string_view id) {
  uint64_t number;
  {
    absl::MutexLock l(&mu_);
    const LiveRow live = FindLive(id);
    if (!live.found() || live.layer->has_vectors()) return nullptr;
    number = static_cast<const Segment*>(live.layer)->number();
  }
  return FetchCold(number);
}

absl::Status CollectionImpl::CollectColdGarbage() {
  const std::string prefix = ColdSegmentPrefix(Uid());
  PROXIMADB_ASSIGN_OR_RETURN(std::vector<ObjectInfo> objects,
                             options_.cold_store->List(prefix));
  absl::Status first;
  for (const ObjectInfo& o : objects) {
    uint64_t number = 0;
    const bool named = [&] {
      if (ParseFileName(o.key.substr(prefix.size()), &number) != FileKind::kSegment) {
        return false;
      }
      absl::MutexLock l(&mu_);
      return cold_stubs_.contains(number);
    }();
    if (named) continue;
    // Tier changes run under tiering_mu_, which this holds: no upload is in flight.
    absl::Status s = options_.cold_store->Delete(o.key);
    if (s.ok()) {
      Log(LogLevel::kInfo, Cat("collection '", options_.config.name,
                               "': removed orphaned cold object ", o.key));
    } else if (first.ok()) {
      first = s;
    }
  }
  return first;
}

absl::Status CollectionImpl::DropColdTier() {
  if (options_.cold_store == nullptr) return absl::OkStatus();
  absl::MutexLock pass(&tiering_mu_);  // an upload under way ends first (and deletes its object)
  std::vector<std::string> cached;
  {
    absl::MutexLock fetch(&fetch_mu_);
    absl::MutexLock l(&mu_);
    for (const auto& [number, stub] : cold_stubs_) {
      std::shared_ptr<Segment>* slot = SlotLocked(number);
      if (slot != nullptr && !(*slot)->cold_stub()) cached.push_back((*slot)->path());
      options_.cold_cache->Remove(ColdKey(number));
    }
  }
  for (const std::string& path : cached) env_->RemoveFile(path).IgnoreError();
  absl::StatusOr<std::vector<ObjectInfo>> objects =
      options_.cold_store->List(ColdSegmentPrefix(Uid()));
  if (!objects.ok()) return objects.status();
  absl::Status first;
  for (const ObjectInfo& o : *objects) {
    absl::Status s = options_.cold_store->Delete(o.key);
    if (first.ok()) first = s;
  }
  return first;
}

}  // namespace proximadb
