#include "storage/layer.h"

namespace proximadb {

uint32_t VisibleRows::count() const {
  if (selected_ == nullptr) return limit_;
  if (limit_ == 0) return 0;
  const uint64_t below_end = roaring_bitmap_rank(&selected_->roaring, base_ + limit_ - 1);
  const uint64_t below_base = base_ == 0 ? 0 : roaring_bitmap_rank(&selected_->roaring, base_ - 1);
  return static_cast<uint32_t>(below_end - below_base);
}

bool VisibleRows::Contains(uint32_t local) const {
  return local < limit_ && (selected_ == nullptr || selected_->contains(base_ + local)) &&
         layer_.VisibleAt(base_ + local, snapshot_);
}

void VisibleRows::ForEach(absl::FunctionRef<void(uint32_t)> fn) const {
  if (selected_ == nullptr) {
    for (uint32_t local = 0; local < limit_; ++local) {
      if (layer_.VisibleAt(base_ + local, snapshot_)) fn(local);
    }
    return;
  }
  roaring_uint32_iterator_t* it = roaring_create_iterator(&selected_->roaring);
  for (bool ok = roaring_move_uint32_iterator_equalorlarger(it, base_);
       ok && it->has_value && it->current_value < base_ + limit_;
       ok = roaring_advance_uint32_iterator(it)) {
    if (layer_.VisibleAt(it->current_value, snapshot_)) fn(it->current_value - base_);
  }
  roaring_free_uint32_iterator(it);
}

}  // namespace proximadb
