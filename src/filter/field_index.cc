#include "filter/field_index.h"

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/container/btree_map.h"
#include "common/coding.h"
#include "filter/json_values.h"

namespace proximadb {

namespace {

// "a.b.c" -> {"a", "b", "c"}.
std::vector<std::string> SplitPath(const std::string& path) {
  std::vector<std::string> parts;
  for (size_t start = 0;;) {
    const size_t dot = path.find('.', start);
    parts.push_back(path.substr(start, dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return parts;
}

}  // namespace

struct FieldIndex::PathIndex {
  std::vector<std::string> parts;
  uint32_t covered = 0;  // rows [0, covered) are indexed
  uint64_t last_used = 0;
  Roaring present, nulls, trues, falses;
  absl::btree_map<std::string, Roaring> strings;
  absl::btree_multimap<double, uint32_t> numbers;
  size_t string_bytes = 0;

  void Add(uint32_t row, const nlohmann::json& doc) {
    bool is_present = false;
    std::vector<const nlohmann::json*> values;
    CollectValues(doc, parts, &is_present, &values);
    if (is_present) present.add(row);
    for (const nlohmann::json* v : values) {
      if (v->is_null()) {
        nulls.add(row);
      } else if (v->is_boolean()) {
        (v->get<bool>() ? trues : falses).add(row);
      } else if (v->is_number()) {
        numbers.emplace(v->get<double>(), row);
      } else if (v->is_string()) {
        auto [it, inserted] = strings.try_emplace(v->get<std::string>());
        if (inserted) string_bytes += it->first.size();
        it->second.add(row);
      }
    }
  }

  // Rows holding a value equal to `s`.
  Roaring Equal(const FilterScalar& s) const {
    switch (s.type) {
      case FilterScalar::kNull: return nulls;
      case FilterScalar::kBool: return s.boolean ? trues : falses;
      case FilterScalar::kString: {
        auto it = strings.find(s.string);
        return it == strings.end() ? Roaring() : it->second;
      }
      case FilterScalar::kNumber: {
        auto [begin, end] = numbers.equal_range(s.number);
        return RowsOf(begin, end);
      }
    }
    return Roaring();
  }

  // The entries of an ordered map whose keys satisfy `op` against `key` ($gt $gte $lt $lte).
  template <typename Map, typename Key>
  static auto Bounds(const Map& map, FilterNode::Op op, const Key& key) {
    auto begin = op == FilterNode::kGt    ? map.upper_bound(key)
                 : op == FilterNode::kGte ? map.lower_bound(key)
                                          : map.begin();
    auto end = op == FilterNode::kLt    ? map.lower_bound(key)
               : op == FilterNode::kLte ? map.upper_bound(key)
                                        : map.end();
    return std::make_pair(begin, end);
  }

  // Rows holding a value of s's type in the range the operator gives.
  Roaring Range(FilterNode::Op op, const FilterScalar& s) const {
    if (s.type == FilterScalar::kNumber) {
      auto [begin, end] = Bounds(numbers, op, s.number);
      return RowsOf(begin, end);
    }
    auto [begin, end] = Bounds(strings, op, s.string);
    Roaring out;
    for (auto it = begin; it != end; ++it) out |= it->second;
    return out;
  }

  template <typename It>
  static Roaring RowsOf(It begin, It end) {
    std::vector<uint32_t> rows;
    for (It it = begin; it != end; ++it) rows.push_back(it->second);
    Roaring out;
    out.addMany(rows.size(), rows.data());
    return out;
  }

  size_t MemoryBytes() const {
    size_t bytes = present.getSizeInBytes() + nulls.getSizeInBytes() + trues.getSizeInBytes() +
                   falses.getSizeInBytes() + string_bytes + numbers.size() * 16;
    for (const auto& [value, rows] : strings) bytes += sizeof(value) + rows.getSizeInBytes();
    return bytes;
  }
};

FieldIndex::FieldIndex() = default;
FieldIndex::~FieldIndex() = default;

void FieldIndex::IndexPathsLocked(const std::vector<std::string>& paths, uint32_t rows,
                                  MetadataFn metadata) {
  // Bring every path the filter reads up to `rows`, parsing each record once.
  std::vector<PathIndex*> behind;
  uint32_t from = rows;
  const uint64_t now = ++clock_;
  for (const std::string& path : paths) {
    auto& index = paths_[path];
    if (index == nullptr) {
      index = std::make_unique<PathIndex>();
      index->parts = SplitPath(path);
    }
    index->last_used = now;
    if (index->covered < rows) {
      behind.push_back(index.get());
      from = std::min(from, index->covered);
    }
  }
  while (paths_.size() > kMaxPaths) {
    auto oldest = paths_.end();
    for (auto it = paths_.begin(); it != paths_.end(); ++it) {
      if (it->second->last_used != now &&
          (oldest == paths_.end() || it->second->last_used < oldest->second->last_used)) {
        oldest = it;
      }
    }
    if (oldest == paths_.end()) break;  // this filter alone reads more paths than the cap
    paths_.erase(oldest);
    cache_.clear();  // cached sets may have come from it; simplest to start over
    cache_order_.clear();
  }
  for (uint32_t row = from; row < rows; ++row) {
    const nlohmann::json doc =
        nlohmann::json::parse(metadata(row), nullptr, /*allow_exceptions=*/false);
    for (PathIndex* index : behind) {
      if (index->covered <= row && doc.is_object()) index->Add(row, doc);
    }
  }
  for (PathIndex* index : behind) index->covered = rows;
  if (!behind.empty()) {
    cache_.clear();  // computed over fewer rows
    cache_order_.clear();
  }

}

Roaring FieldIndex::Select(const Filter& filter, uint32_t rows, MetadataFn metadata) {
  // Indexes may cover rows beyond `rows` (a reader pinned later extended them): trim.
  auto trimmed = [rows](Roaring r) {
    roaring_bitmap_remove_range(&r.roaring, rows, uint64_t{1} << 32);
    return r;
  };
  {
    // The common case, a repeated filter, only reads: concurrent searches share the lock.
    absl::ReaderMutexLock lock(&mu_);
    if (auto it = cache_.find(filter.canonical());
        it != cache_.end() && it->second.covered >= rows) {
      return trimmed(it->second.rows);
    }
  }
  absl::MutexLock lock(&mu_);
  if (auto it = cache_.find(filter.canonical()); it != cache_.end() && it->second.covered >= rows) {
    return trimmed(it->second.rows);
  }
  IndexPathsLocked(filter.paths(), rows, metadata);

  Roaring out = trimmed(Evaluate(*filter.root(), rows));
  if (cache_.size() >= kCachedFilters) {
    cache_.erase(cache_order_.front());
    cache_order_.erase(cache_order_.begin());
  }
  if (cache_.insert_or_assign(filter.canonical(), Cached{out, rows}).second) {
    cache_order_.push_back(filter.canonical());
  }
  return out;
}

Roaring FieldIndex::Evaluate(const FilterNode& node, uint32_t rows) const {
  auto all = [rows] {
    Roaring r;
    r.addRange(0, rows);
    return r;
  };
  switch (node.kind) {
    case FilterNode::kAnd: {
      if (node.children.empty()) return all();
      Roaring out = Evaluate(node.children[0], rows);
      for (size_t i = 1; i < node.children.size() && !out.isEmpty(); ++i) {
        out &= Evaluate(node.children[i], rows);
      }
      return out;
    }
    case FilterNode::kOr: {
      Roaring out;
      for (const FilterNode& c : node.children) out |= Evaluate(c, rows);
      return out;
    }
    case FilterNode::kNot:
      return all() - Evaluate(node.children[0], rows);
    case FilterNode::kCondition:
      break;
  }
  const PathIndex& index = *paths_.at(node.path);
  auto equal_any = [&] {
    Roaring out;
    for (const FilterScalar& s : node.values) out |= index.Equal(s);
    return out;
  };
  switch (node.op) {
    case FilterNode::kEq:
    case FilterNode::kIn:
      return equal_any();
    case FilterNode::kNe:
    case FilterNode::kNin:
      return all() - equal_any();
    case FilterNode::kExists:
      return node.exists ? index.present : all() - index.present;
    default:
      return index.Range(node.op, node.values[0]);
  }
}

size_t FieldIndex::indexed_paths() const {
  absl::MutexLock lock(&mu_);
  return paths_.size();
}

size_t FieldIndex::MemoryBytes() const {
  absl::MutexLock lock(&mu_);
  size_t bytes = 0;
  for (const auto& [path, index] : paths_) bytes += path.size() + index->MemoryBytes();
  for (const auto& [text, cached] : cache_) bytes += text.size() + cached.rows.getSizeInBytes();
  return bytes;
}

std::vector<std::string> FieldIndex::paths() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::pair<uint64_t, std::string>> used;
  for (const auto& [path, index] : paths_) used.emplace_back(index->last_used, path);
  std::sort(used.rbegin(), used.rend());
  std::vector<std::string> out;
  for (auto& [unused, path] : used) out.push_back(std::move(path));
  return out;
}

void FieldIndex::Build(const std::vector<std::string>& paths, uint32_t rows,
                       MetadataFn metadata) {
  absl::MutexLock lock(&mu_);
  IndexPathsLocked(paths, rows, metadata);
}

namespace {

void PutBitmap(std::string* out, const Roaring& bitmap) {
  std::string bytes(bitmap.getSizeInBytes(/*portable=*/true), '\0');
  bitmap.write(bytes.data(), /*portable=*/true);
  PutLengthPrefixed(out, bytes);
}

bool GetBitmap(Decoder* in, uint32_t rows, Roaring* bitmap) {
  std::string_view bytes;
  if (!in->GetLengthPrefixed(&bytes)) return false;
  try {
    *bitmap = Roaring::readSafe(bytes.data(), bytes.size());
  } catch (const std::exception&) {
    return false;
  }
  return bitmap->getSizeInBytes(/*portable=*/true) == bytes.size() &&
         (bitmap->isEmpty() || bitmap->maximum() < rows);
}

}  // namespace

// Per path: path, then the present, null, true and false rows, the strings with their rows,
// and the (number, row) pairs in order.
std::string FieldIndex::Serialize() const {
  absl::MutexLock lock(&mu_);
  std::string out;
  PutFixed32(&out, static_cast<uint32_t>(paths_.size()));
  for (const auto& [path, index] : paths_) {
    PutLengthPrefixed(&out, path);
    for (const Roaring* b : {&index->present, &index->nulls, &index->trues, &index->falses}) {
      PutBitmap(&out, *b);
    }
    PutFixed32(&out, static_cast<uint32_t>(index->strings.size()));
    for (const auto& [value, rows] : index->strings) {
      PutLengthPrefixed(&out, value);
      PutBitmap(&out, rows);
    }
    PutFixed64(&out, index->numbers.size());
    for (const auto& [value, row] : index->numbers) {
      uint64_t bits;
      std::memcpy(&bits, &value, sizeof(bits));
      PutFixed64(&out, bits);
      PutFixed32(&out, row);
    }
  }
  return out;
}

absl::Status FieldIndex::Load(std::string_view bytes, uint32_t rows) {
  auto bad = [] { return absl::DataLossError("field indexes are damaged"); };
  Decoder in(bytes);
  uint32_t count = 0;
  if (!in.GetFixed32(&count) || count > kMaxPaths) return bad();
  absl::flat_hash_map<std::string, std::unique_ptr<PathIndex>> loaded;
  for (uint32_t p = 0; p < count; ++p) {
    std::string_view path;
    if (!in.GetLengthPrefixed(&path) || path.empty()) return bad();
    auto index = std::make_unique<PathIndex>();
    index->parts = SplitPath(std::string(path));
    index->covered = rows;
    for (Roaring* b : {&index->present, &index->nulls, &index->trues, &index->falses}) {
      if (!GetBitmap(&in, rows, b)) return bad();
    }
    uint32_t strings = 0;
    if (!in.GetFixed32(&strings)) return bad();
    for (uint32_t i = 0; i < strings; ++i) {
      std::string_view value;
      Roaring value_rows;
      if (!in.GetLengthPrefixed(&value) || !GetBitmap(&in, rows, &value_rows)) return bad();
      index->string_bytes += value.size();
      index->strings.emplace(std::string(value), std::move(value_rows));
    }
    uint64_t numbers = 0;
    if (!in.GetFixed64(&numbers) || numbers > in.remaining() / 12) return bad();
    for (uint64_t i = 0; i < numbers; ++i) {
      uint64_t bits = 0;
      uint32_t row = 0;
      if (!in.GetFixed64(&bits) || !in.GetFixed32(&row) || row >= rows) return bad();
      double value;
      std::memcpy(&value, &bits, sizeof(value));
      index->numbers.emplace_hint(index->numbers.end(), value, row);
    }
    loaded[std::string(path)] = std::move(index);
  }
  if (!in.done()) return bad();
  absl::MutexLock lock(&mu_);
  paths_ = std::move(loaded);
  cache_.clear();
  cache_order_.clear();
  return absl::OkStatus();
}

}  // namespace proximadb
