#include "index/hnsw.h"

#include <xmmintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <mutex>
#include <queue>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/coding.h"
#include "common/macros.h"

namespace proximadb::index {

// The longest neighbour list (m0 = 2m, m at most 256).
constexpr uint32_t kMaxLinks = 512;

struct Hnsw::Candidate {
  float distance;
  uint32_t node;
  bool operator<(const Candidate& o) const { return distance < o.distance; }
  bool operator>(const Candidate& o) const { return distance > o.distance; }
};

namespace {

constexpr char kMagic[8] = {'P', 'X', 'D', 'B', 'H', 'N', 'S', 'W'};
constexpr uint32_t kFormatVersion = 1;
constexpr size_t kHeaderSize = 48;
constexpr uint32_t kNone = UINT32_MAX;

// Links are published with release and read with acquire, not only the counts: a full list is
// rewritten in place under the node's lock, so a reader may take a new link under an older
// count, and it must then also see the linked row's own lists (allocated by its insert). On
// x86 both orders compile to plain moves.
uint32_t LoadLink(const uint32_t* p) {
  return std::atomic_ref<uint32_t>(*const_cast<uint32_t*>(p)).load(std::memory_order_acquire);
}
uint32_t LoadCount(const uint32_t* p) {
  return std::atomic_ref<uint32_t>(*const_cast<uint32_t*>(p)).load(std::memory_order_acquire);
}
void Store(uint32_t* p, uint32_t v) {
  std::atomic_ref<uint32_t>(*p).store(v, std::memory_order_release);
}
void StoreCount(uint32_t* p, uint32_t v) {
  std::atomic_ref<uint32_t>(*p).store(v, std::memory_order_release);
}

uint64_t Pack(int level, uint32_t node) { return (uint64_t(uint32_t(level)) << 32) | node; }

uint64_t Mix(uint64_t x) {  // splitmix64 finalizer
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

size_t Align8(size_t n) { return (n + 7) / 8 * 8; }

}  // namespace

// Visited sets reused across searches: a tag per node compared with the list's epoch, so a
// search starts by bumping the epoch instead of clearing the array. A list covers the graph's
// capacity when acquired; a graph that grows during a search makes it grow too.
class Hnsw::VisitedPool {
 public:
  explicit VisitedPool(uint32_t n) : n_(n) {}

  struct List {
    std::unique_ptr<uint16_t[]> tags;
    uint32_t size = 0;
    uint16_t epoch = 0;
    bool Visit(uint32_t node) {
      if (node >= size) [[unlikely]] Resize(std::max(node + 1, 2 * size));
      if (tags[node] == epoch) return false;
      tags[node] = epoch;
      return true;
    }
    void Resize(uint32_t n) {
      auto grown = std::make_unique<uint16_t[]>(n);  // zeroed
      std::memcpy(grown.get(), tags.get(), size * sizeof(uint16_t));
      tags = std::move(grown);
      size = n;
    }
  };

  // The graph's new capacity: lists acquired from now on cover it.
  void SetSize(uint32_t n) { n_.store(n, std::memory_order_release); }

  std::unique_ptr<List> Acquire() {
    std::unique_ptr<List> list;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (!free_.empty()) {
        list = std::move(free_.back());
        free_.pop_back();
      }
    }
    if (!list) list = std::make_unique<List>();
    if (const uint32_t n = n_.load(std::memory_order_acquire); list->size < n) list->Resize(n);
    if (++list->epoch == 0) {
      std::memset(list->tags.get(), 0, list->size * sizeof(uint16_t));
      list->epoch = 1;
    }
    return list;
  }

  void Release(std::unique_ptr<List> list) {
    std::lock_guard<std::mutex> l(mu_);
    free_.push_back(std::move(list));
  }

 private:
  std::atomic<uint32_t> n_;
  // std::mutex (pthreads) rather than absl::Mutex: ThreadSanitizer sees through it even though
  // Debian's Abseil is not built with TSan, so index_tsan_test checks the real protocol.
  std::mutex mu_;
  std::vector<std::unique_ptr<List>> free_;  // guarded by mu_
};

Hnsw::Hnsw(const float* vectors, uint32_t dim, DistanceMetric metric, uint32_t capacity,
           HnswParams params)
    : Hnsw(vectors, dim, metric, capacity, params, /*loaded=*/false) {
  Grow(capacity);
}

std::unique_ptr<Hnsw> Hnsw::Growable(const float* vectors, uint32_t dim, DistanceMetric metric,
                                     uint32_t max_capacity, HnswParams params) {
  return std::unique_ptr<Hnsw>(
      new Hnsw(vectors, dim, metric, max_capacity, params, /*loaded=*/false));
}

Hnsw::Hnsw(const float* vectors, uint32_t dim, DistanceMetric metric, uint32_t max_capacity,
           HnswParams params, bool loaded)
    : vectors_(vectors),
      dim_(dim),
      metric_(metric),
      distance_(DistanceFor(metric)),
      max_capacity_(max_capacity),
      m_(params.m),
      m0_(2 * params.m),
      ef_construction_(params.ef_construction),
      seed_(params.seed),
      level_mult_(1.0 / std::log(std::max<double>(params.m, 2))),
      loaded_(loaded),
      deleted_((max_capacity + 63) / 64),
      visited_(std::make_unique<VisitedPool>(0)) {
  if (loaded) return;
  level0_owned_ = ReservedArray<uint32_t>(size_t{max_capacity} * (1 + m0_));
  level0_ = level0_owned_.data();
  levels_owned_ = ReservedArray<uint8_t>(max_capacity);
  levels_ = levels_owned_.data();
  upper_owned_ = ReservedArray<uint32_t*>(max_capacity);
  locks_ = ReservedArray<uint8_t>(max_capacity);
}

Hnsw::~Hnsw() {
  if (loaded_) return;
  for (uint32_t r = 0, n = capacity(); r < n; ++r) delete[] upper_owned_[r];
}

void Hnsw::Grow(uint32_t capacity) {
  PROXIMADB_CHECK(!loaded_ && capacity <= max_capacity_);
  const uint32_t from = capacity_.load(std::memory_order_relaxed);
  if (capacity <= from) return;
  level0_owned_.Commit(size_t{capacity} * (1 + m0_));
  levels_owned_.Commit(capacity);
  std::memset(&levels_owned_[from], kAbsent, capacity - from);
  upper_owned_.Commit(capacity);
  locks_.Commit(capacity);
  deleted_.Commit((capacity + 63) / 64);
  capacity_.store(capacity, std::memory_order_release);
  visited_->SetSize(capacity);
}

uint32_t* Hnsw::Links(uint32_t node, int level) const {
  if (level == 0) return level0_ + static_cast<size_t>(node) * (1 + m0_);
  const size_t offset = static_cast<size_t>(level - 1) * (1 + m_);
  if (loaded_) return const_cast<uint32_t*>(upper_blob_ + upper_offsets_[node] + offset);
  return upper_owned_[node] + offset;
}

void Hnsw::Lock(uint32_t node) const {
  std::atomic_ref<uint8_t> lock(locks_[node]);
  while (lock.exchange(1, std::memory_order_acquire) != 0) {
    while (lock.load(std::memory_order_relaxed) != 0) _mm_pause();
  }
}

void Hnsw::Unlock(uint32_t node) const {
  std::atomic_ref<uint8_t>(locks_[node]).store(0, std::memory_order_release);
}

int Hnsw::RandomLevel(uint32_t row) const {
  // Deterministic per row, so a build is reproducible whatever the thread interleaving.
  const double u = (static_cast<double>(Mix(seed_ ^ (uint64_t{row} << 1)) >> 11) + 1.0) *
                   (1.0 / 9007199254740993.0);
  return std::min(static_cast<int>(-std::log(u) * level_mult_), 30);
}

void Hnsw::RecordTraversal(uint32_t gathered, uint32_t distances) const {
  if (gathered == 0) return;
  const double sample = distances / std::pow(double(gathered), kTraversalExponent);
  const double c = traversal_.load(std::memory_order_relaxed);
  traversal_.store(c == 0 ? sample : c + (sample - c) / 32, std::memory_order_relaxed);
}

void Hnsw::MarkDeleted(uint32_t row) {
  std::atomic_ref<uint64_t>(deleted_[row / 64])
      .fetch_or(uint64_t{1} << (row % 64), std::memory_order_release);
}

bool Hnsw::IsDeleted(uint32_t row) const {
  return (std::atomic_ref<uint64_t>(deleted_[row / 64]).load(std::memory_order_acquire) >>
          (row % 64)) & 1;
}

uint32_t Hnsw::GreedyDescend(const RowDistance& dist, uint32_t entry, int from_level,
                             int to_level, SearchStats* stats) const {
  uint32_t cur = entry;
  float d = dist(cur);
  for (int level = from_level; level >= to_level; --level) {
    for (bool changed = true; changed;) {
      changed = false;
      const uint32_t* links = Links(cur, level);
      const uint32_t count = LoadCount(links);
      if (stats) ++stats->expanded;
      for (uint32_t i = 1; i <= count; ++i) {
        const uint32_t n = LoadLink(links + i);
        const float dn = dist(n);
        if (stats) ++stats->distances;
        if (dn < d) {
          d = dn;
          cur = n;
          changed = true;
        }
      }
    }
  }
  return cur;
}

template <typename Allow>
std::vector<Hnsw::Candidate> Hnsw::SearchLayer(const RowDistance& dist, uint32_t entry,
                                               uint32_t ef, int level, const Allow& allow,
                                               SearchStats* stats,
                                               uint32_t max_distances) const {
  std::unique_ptr<VisitedPool::List> visited = visited_->Acquire();
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> candidates;
  std::priority_queue<Candidate> results;  // farthest on top
  float bound = std::numeric_limits<float>::infinity();
  uint32_t spent = 0;

  const float d = dist(entry);
  visited->Visit(entry);
  candidates.push({d, entry});
  if (allow(entry)) {
    results.push({d, entry});
    bound = d;
  }
  while (!candidates.empty()) {
    const Candidate c = candidates.top();
    if (c.distance > bound && results.size() >= ef) break;
    candidates.pop();
    const uint32_t* links = Links(c.node, level);
    const uint32_t count = LoadCount(links);
    if (stats) ++stats->expanded;
    // The unvisited neighbours first, their rows all requested from memory at once, then their
    // distances: the misses overlap instead of following one another.
    uint32_t fresh[kMaxLinks];
    uint32_t num_fresh = 0;
    for (uint32_t i = 1; i <= count; ++i) {
      const uint32_t n = LoadLink(links + i);
      if (!visited->Visit(n)) continue;
      dist.Prefetch(n);
      fresh[num_fresh++] = n;
    }
    for (uint32_t f = 0; f < num_fresh; ++f) {
      const uint32_t n = fresh[f];
      const float dn = dist(n);
      if (stats) ++stats->distances;
      if (max_distances != 0 && ++spent >= max_distances) {
        stats->budget_exceeded = true;
        visited_->Release(std::move(visited));
        return {};
      }
      if (results.size() < ef || dn < bound) {
        candidates.push({dn, n});
        if (allow(n)) {
          results.push({dn, n});
          if (results.size() > ef) results.pop();
          bound = results.top().distance;
        }
      }
    }
  }
  visited_->Release(std::move(visited));
  std::vector<Candidate> out(results.size());
  for (size_t i = out.size(); i-- > 0; results.pop()) out[i] = results.top();
  return out;
}

std::vector<uint32_t> Hnsw::SelectNeighbors(std::vector<Candidate> candidates,
                                            uint32_t max) const {
  std::sort(candidates.begin(), candidates.end());
  std::vector<uint32_t> selected;
  selected.reserve(max);
  for (const Candidate& c : candidates) {
    if (selected.size() >= max) break;
    bool diverse = true;
    for (uint32_t s : selected) {
      if (distance_(Vector(c.node), Vector(s), dim_) < c.distance) {
        diverse = false;
        break;
      }
    }
    if (diverse) selected.push_back(c.node);
  }
  return selected;
}

void Hnsw::Connect(uint32_t node, uint32_t neighbor, int level) {
  Lock(node);
  uint32_t* links = Links(node, level);
  const uint32_t count = links[0];
  const uint32_t max = MaxLinks(level);
  if (count < max) {
    Store(links + 1 + count, neighbor);
    StoreCount(links, count + 1);
  } else {
    std::vector<Candidate> candidates;
    candidates.reserve(count + 1);
    candidates.push_back({distance_(Vector(node), Vector(neighbor), dim_), neighbor});
    for (uint32_t i = 1; i <= count; ++i) {
      candidates.push_back({distance_(Vector(node), Vector(links[i]), dim_), links[i]});
    }
    std::vector<uint32_t> kept = SelectNeighbors(std::move(candidates), max);
    for (uint32_t i = 0; i < kept.size(); ++i) Store(links + 1 + i, kept[i]);
    StoreCount(links, static_cast<uint32_t>(kept.size()));
  }
  Unlock(node);
}

void Hnsw::Insert(uint32_t row) {
  PROXIMADB_CHECK(!loaded_ && row < capacity() && levels_[row] == kAbsent);
  const int level = RandomLevel(row);
  if (level > 0) upper_owned_[row] = new uint32_t[static_cast<size_t>(level) * (1 + m_)]();
  levels_owned_[row] = static_cast<uint8_t>(level);
  const RowDistance q = Exact(Vector(row));

  uint64_t e = entry_.load(std::memory_order_acquire);
  if (e == UINT64_MAX) {
    std::lock_guard<std::mutex> l(entry_mu_);
    e = entry_.load(std::memory_order_acquire);
    if (e == UINT64_MAX) {
      entry_.store(Pack(level, row), std::memory_order_release);
      inserted_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
  }
  const int top = static_cast<int>(e >> 32);
  uint32_t cur = static_cast<uint32_t>(e);
  if (level < top) cur = GreedyDescend(q, cur, top, level + 1, nullptr);
  // First choose the row's neighbours on every level, then write its lists, and only then link
  // it into the graph. Linking level by level, as the search goes, lets another insert reach
  // the row on a higher level while its lower lists are still empty: that insert then takes the
  // row as its only neighbour there and appends itself to the row's list, which this insert
  // overwrites a moment later, so the other row is left without incoming links (about 1% of
  // the rows of a two-thread build on real embeddings were unreachable that way).
  const int linked_top = std::min(level, top);
  std::vector<std::vector<uint32_t>> neighbors(linked_top + 1);
  for (int l = linked_top; l >= 0; --l) {
    std::vector<Candidate> near =
        SearchLayer(q, cur, ef_construction_, l, [](uint32_t) { return true; }, nullptr);
    cur = near.front().node;
    neighbors[l] = SelectNeighbors(std::move(near), m_);
  }
  Lock(row);
  for (int l = linked_top; l >= 0; --l) {
    uint32_t* links = Links(row, l);
    for (uint32_t i = 0; i < neighbors[l].size(); ++i) Store(links + 1 + i, neighbors[l][i]);
    StoreCount(links, static_cast<uint32_t>(neighbors[l].size()));
  }
  Unlock(row);
  for (int l = linked_top; l >= 0; --l) {
    for (uint32_t n : neighbors[l]) Connect(n, row, l);
  }
  if (level > top) {
    std::lock_guard<std::mutex> l(entry_mu_);
    if (level > static_cast<int>(entry_.load(std::memory_order_relaxed) >> 32)) {
      entry_.store(Pack(level, row), std::memory_order_release);
    }
  }
  inserted_.fetch_add(1, std::memory_order_relaxed);
}

template <typename Allow>
std::vector<Hit> Hnsw::SearchFrom(const RowDistance& dist, uint32_t k, uint32_t ef,
                                  const Allow& allow, SearchStats* stats,
                                  uint32_t max_distances) const {
  const uint64_t e = entry_.load(std::memory_order_acquire);
  if (e == UINT64_MAX || k == 0) return {};
  const uint32_t entry =
      GreedyDescend(dist, static_cast<uint32_t>(e), static_cast<int>(e >> 32), 1, stats);
  std::vector<Candidate> found =
      SearchLayer(dist, entry, std::max(ef, k), 0, allow, stats, max_distances);
  std::vector<Hit> hits;
  hits.reserve(std::min<size_t>(k, found.size()));
  for (size_t i = 0; i < found.size() && i < k; ++i) {
    hits.push_back({found[i].distance, found[i].node});
  }
  return hits;
}

std::vector<Hit> Hnsw::Search(const RowDistance& dist, uint32_t k, uint32_t ef,
                              SearchStats* stats) const {
  return SearchFrom(dist, k, ef, [this](uint32_t row) { return !IsDeleted(row); }, stats, 0);
}

std::vector<Hit> Hnsw::Search(const RowDistance& dist, uint32_t k, uint32_t ef,
                              absl::FunctionRef<bool(uint32_t)> allow, SearchStats* stats,
                              uint32_t max_distances) const {
  return SearchFrom(
      dist, k, ef, [&](uint32_t row) { return !IsDeleted(row) && allow(row); }, stats,
      max_distances);
}

std::vector<Hit> Hnsw::Search(const RowDistance& dist, uint32_t k, uint32_t ef,
                              const uint64_t* allowed, SearchStats* stats,
                              uint32_t max_distances) const {
  return SearchFrom(
      dist, k, ef,
      [&](uint32_t row) { return ((allowed[row / 64] >> (row % 64)) & 1) && !IsDeleted(row); },
      stats, max_distances);
}

std::vector<uint32_t> Hnsw::Neighbors(uint32_t row, int level) const {
  PROXIMADB_CHECK(level <= Level(row));
  const uint32_t* links = Links(row, level);
  std::vector<uint32_t> out(LoadCount(links));
  for (uint32_t i = 0; i < out.size(); ++i) out[i] = LoadLink(links + 1 + i);
  return out;
}

void Hnsw::MarkReachable(uint32_t from, std::vector<bool>* reached) const {
  std::vector<uint32_t> stack = {from};
  (*reached)[from] = true;
  while (!stack.empty()) {
    const uint32_t* links = Links(stack.back(), 0);
    stack.pop_back();
    for (uint32_t i = 1, count = LoadCount(links); i <= count; ++i) {
      const uint32_t n = LoadLink(links + i);
      if (!(*reached)[n]) {
        (*reached)[n] = true;
        stack.push_back(n);
      }
    }
  }
}

std::vector<uint32_t> Hnsw::UnreachableRows() const {
  const uint32_t capacity = this->capacity();
  std::vector<bool> reached(capacity, false);
  const uint64_t e = entry_.load(std::memory_order_acquire);
  if (e != UINT64_MAX) MarkReachable(static_cast<uint32_t>(e), &reached);
  std::vector<uint32_t> unreachable;
  for (uint32_t r = 0; r < capacity; ++r) {
    if (levels_[r] != kAbsent && !reached[r]) unreachable.push_back(r);
  }
  return unreachable;
}

uint32_t Hnsw::LinkUnreachable() {
  PROXIMADB_CHECK(!loaded_);
  const std::vector<uint32_t> unreachable = UnreachableRows();
  if (unreachable.empty()) return 0;
  const uint64_t e = entry_.load(std::memory_order_acquire);
  const uint32_t capacity = this->capacity();
  std::vector<bool> reached(capacity, true);
  for (uint32_t r : unreachable) reached[r] = false;
  uint32_t added = 0;
  for (uint32_t row : unreachable) {
    if (reached[row]) continue;  // linking an earlier one reached this one too
    // The nearest reachable row with a free slot links to `row`; the search proposes the
    // nearest rows (not all reachable: it starts wherever the upper levels lead), failing
    // those, any reachable row with a free slot will do.
    const RowDistance from_row = Exact(Vector(row));
    const uint32_t start =
        GreedyDescend(from_row, static_cast<uint32_t>(e), static_cast<int>(e >> 32), 1, nullptr);
    std::vector<Candidate> near = SearchLayer(from_row, start, ef_construction_, 0,
                                              [](uint32_t) { return true; }, nullptr);
    auto can_link = [&](uint32_t n) { return reached[n] && LoadCount(Links(n, 0)) < m0_; };
    uint32_t from = kNone;
    for (const Candidate& c : near) {
      if (can_link(c.node)) {
        from = c.node;
        break;
      }
    }
    if (from == kNone) {
      float best = std::numeric_limits<float>::infinity();
      for (uint32_t n = 0; n < capacity; ++n) {
        if (levels_[n] == kAbsent || !can_link(n)) continue;
        const float d = distance_(Vector(row), Vector(n), dim_);
        if (d < best) best = d, from = n;
      }
    }
    if (from == kNone) continue;  // every list is full: UnreachableRows still names the row
    Connect(from, row, 0);        // room in the list: an append, nothing is dropped
    ++added;
    MarkReachable(row, &reached);
  }
  return added;
}

// Serialized form (all little-endian, sections 8-byte aligned):
//   header   := magic:"PXDBHNSW" version:u32 dim:u32 metric:u32 m:u32 capacity:u32
//               entry_node:u32 top_level:u32 inserted:u32 zero:u32[2]            (48 bytes)
//   levels   := u8[capacity]                          0xff = row not in the graph
//   level0   := u32[capacity * (1 + 2m)]              [count, ids...] per row
//   upper_at := u32[capacity]                         offset of a row's upper lists in upper
//   upper    := u32[...]                              level * (1 + m) entries per row
//   deleted  := u64[(capacity + 63) / 64]             bitmap
std::string Hnsw::Serialize(uint32_t rows) const {
  const uint64_t e = entry_.load(std::memory_order_acquire);
  const uint32_t capacity = rows;
  PROXIMADB_CHECK(rows <= this->capacity());
  for (uint32_t r = rows; r < this->capacity(); ++r) PROXIMADB_CHECK(levels_[r] == kAbsent);
  std::string out(kHeaderSize, '\0');
  std::memcpy(out.data(), kMagic, 8);
  const uint32_t header[] = {kFormatVersion,
                             dim_,
                             static_cast<uint32_t>(metric_),
                             m_,
                             capacity,
                             e == UINT64_MAX ? kNone : static_cast<uint32_t>(e),
                             e == UINT64_MAX ? 0 : static_cast<uint32_t>(e >> 32),
                             size()};
  std::memcpy(out.data() + 8, header, sizeof(header));
  auto append = [&](const void* p, size_t n) {
    out.append(static_cast<const char*>(p), n);
    out.resize(Align8(out.size()), '\0');
  };
  append(levels_, capacity);
  append(level0_, static_cast<size_t>(capacity) * (1 + m0_) * sizeof(uint32_t));
  std::vector<uint32_t> upper_at(capacity, 0), upper;
  for (uint32_t r = 0; r < capacity; ++r) {
    upper_at[r] = static_cast<uint32_t>(upper.size());
    if (levels_[r] == kAbsent || levels_[r] == 0) continue;
    const uint32_t* block = Links(r, 1);
    upper.insert(upper.end(), block, block + levels_[r] * (1 + m_));
  }
  append(upper_at.data(), upper_at.size() * sizeof(uint32_t));
  PutFixed64(&out, upper.size());
  append(upper.data(), upper.size() * sizeof(uint32_t));
  std::vector<uint64_t> deleted((capacity + 63) / 64);
  for (size_t i = 0; i < deleted.size(); ++i) {
    deleted[i] = std::atomic_ref<uint64_t>(deleted_[i]).load(std::memory_order_acquire);
  }
  append(deleted.data(), deleted.size() * sizeof(uint64_t));
  return out;
}

absl::StatusOr<std::unique_ptr<Hnsw>> Hnsw::Load(std::string_view buffer, const float* vectors,
                                                 uint32_t dim, DistanceMetric metric) {
  auto corrupt = [](std::string why) {
    return absl::DataLossError("HNSW graph is corrupt: " + why);
  };
  if (buffer.size() < kHeaderSize || std::memcmp(buffer.data(), kMagic, 8) != 0) {
    return corrupt("bad magic number");
  }
  if (reinterpret_cast<uintptr_t>(buffer.data()) % 8 != 0) {
    return absl::InvalidArgumentError("HNSW buffer must be 8-byte aligned");
  }
  uint32_t h[8];
  std::memcpy(h, buffer.data() + 8, sizeof(h));
  const uint32_t version = h[0], file_dim = h[1], m = h[3], capacity = h[4], entry = h[5],
                 top = h[6], inserted = h[7];
  if (version != kFormatVersion) return corrupt(absl::StrCat("unknown version ", version));
  if (file_dim != dim || h[2] != static_cast<uint32_t>(metric)) {
    return corrupt("dimension or metric does not match the collection");
  }
  if (m < 2 || m > 1024 || top > 30 || (entry != kNone && entry >= capacity)) {
    return corrupt("bad parameters");
  }
  HnswParams params;
  params.m = m;
  std::unique_ptr<Hnsw> g(new Hnsw(vectors, dim, metric, capacity, params, /*loaded=*/true));

  size_t pos = kHeaderSize;
  auto take = [&](size_t n) -> const char* {
    if (pos > buffer.size() || n > buffer.size() - pos) return nullptr;  // no overflow
    const char* p = buffer.data() + pos;
    pos = Align8(pos + n);
    return p;
  };
  const uint32_t m0 = 2 * m;
  const auto* levels = reinterpret_cast<const uint8_t*>(take(capacity));
  auto* level0 = reinterpret_cast<const uint32_t*>(take(size_t{capacity} * (1 + m0) * 4));
  const auto* upper_at = reinterpret_cast<const uint32_t*>(take(size_t{capacity} * 4));
  const char* upper_size_p = take(8);
  if (!levels || !level0 || !upper_at || !upper_size_p) return corrupt("truncated");
  const uint64_t upper_size = DecodeFixed64(upper_size_p);
  // Checked before the multiplication: a huge count would wrap upper_size * 4 to a small size.
  if (upper_size > buffer.size() / 4) return corrupt("truncated");
  const auto* upper = reinterpret_cast<const uint32_t*>(take(upper_size * 4));
  const char* deleted = take(size_t{(capacity + 63) / 64} * 8);
  if (!upper || !deleted) return corrupt("truncated");

  // Every link must name a row of the graph, and lists must fit their slots.
  uint32_t present = 0;
  for (uint32_t r = 0; r < capacity; ++r) {
    if (levels[r] == kAbsent) continue;
    ++present;
    if (levels[r] > top) return corrupt("level above the top level");
    const uint32_t* l0 = level0 + size_t{r} * (1 + m0);
    if (l0[0] > m0) return corrupt("level-0 list too long");
    for (uint32_t i = 1; i <= l0[0]; ++i) {
      if (l0[i] >= capacity || levels[l0[i]] == kAbsent) return corrupt("bad level-0 link");
    }
    if (levels[r] > 0 && uint64_t{upper_at[r]} + uint64_t{levels[r]} * (1 + m) > upper_size) {
      return corrupt("upper lists out of range");
    }
    for (uint32_t lv = 1; lv <= levels[r]; ++lv) {
      const uint32_t* l = upper + upper_at[r] + size_t{lv - 1} * (1 + m);
      if (l[0] > m) return corrupt("upper list too long");
      for (uint32_t i = 1; i <= l[0]; ++i) {
        if (l[i] >= capacity || levels[l[i]] == kAbsent || levels[l[i]] < lv) {
          return corrupt("bad upper link");
        }
      }
    }
  }
  if (present != inserted || (entry == kNone) != (inserted == 0) ||
      (entry != kNone && levels[entry] != top)) {
    return corrupt("entry point or node count inconsistent");
  }
  g->levels_ = levels;
  g->level0_ = const_cast<uint32_t*>(level0);
  g->upper_offsets_ = upper_at;
  g->upper_blob_ = upper;
  g->deleted_.Commit((capacity + 63) / 64);
  for (uint32_t i = 0; i < (capacity + 63) / 64; ++i) {
    g->deleted_[i] = DecodeFixed64(deleted + size_t{i} * 8);
  }
  g->capacity_.store(capacity, std::memory_order_release);
  g->visited_->SetSize(capacity);
  if (entry != kNone) g->entry_.store(Pack(static_cast<int>(top), entry));
  g->inserted_.store(inserted);
  return g;
}

size_t Hnsw::MemoryBytes() const {
  const uint32_t capacity = this->capacity();
  size_t bytes = (capacity + 63) / 64 * 8;
  if (loaded_) return bytes;  // the graph itself is in the caller's buffer
  bytes += static_cast<size_t>(capacity) * ((1 + m0_) * sizeof(uint32_t) + 1 + 1 +
                                            sizeof(uint32_t*));
  for (uint32_t r = 0; r < capacity; ++r) {
    if (levels_[r] != kAbsent && levels_[r] > 0) bytes += levels_[r] * (1 + m_) * sizeof(uint32_t);
  }
  return bytes;
}

bool BuildHnsw(Hnsw& graph, uint32_t rows, int threads,
               absl::FunctionRef<bool(uint32_t)> include, const std::atomic<bool>* stop) {
  std::atomic<uint32_t> next{0};
  std::atomic<bool> stopped{false};
  auto work = [&] {
    for (uint32_t r; (r = next.fetch_add(1, std::memory_order_relaxed)) < rows;) {
      if (stop != nullptr && stop->load(std::memory_order_relaxed)) {
        stopped.store(true, std::memory_order_relaxed);
        return;
      }
      if (include(r)) graph.Insert(r);
    }
  };
  // A thread for every thousand rows at most: a small build is not worth a thread.
  threads = std::min<int64_t>(threads, 1 + rows / 1000);
  std::vector<std::thread> helpers;
  for (int t = 1; t < threads; ++t) helpers.emplace_back(work);
  work();
  for (std::thread& t : helpers) t.join();
  if (stopped.load(std::memory_order_relaxed)) return false;
  graph.LinkUnreachable();
  return true;
}

}  // namespace proximadb::index
