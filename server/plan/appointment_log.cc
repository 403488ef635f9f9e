#include "server/plan/appointment_log.h"

#include <algorithm>

#include "server/common/bytes.h"
#include "server/common/check.h"
#include "server/plan/state_keys.h"

namespace rappel::server::plan {

AppointmentLog::AppointmentLog(Engine* engine, Options options, SubmitFn submit)
    : engine_(engine), options_(options), submit_(std::move(submit)) {}

absl::Status AppointmentLog::Load(Store::Reader& reader) {
  absl::Status error;
  std::string_view pa = "pa/";
  std::optional<uint64_t> first;
  absl::Status st = reader.ScanState(pa, [&](std::string_view k, std::string_view v) {
    if (k.substr(0, pa.size()) != pa) return false;
    if (k.size() != pa.size() + 8) {
      error = absl::DataLossError("malformed appointment record key");
      return false;
    }
    uint64_t seq = GetBE(k, pa.size(), 8);
    if (!first) first = seq;
    next_record_ = std::max(next_record_, seq + 1);
    // Numbers grow with every write: a later record of an id supersedes
    // the earlier one, and a tombstone ends it.
    bool tombstone = !v.empty() && v[0] == '\0';
    std::string obj;
    std::optional<BookEntry> e;
    if (tombstone) {
      obj = std::string(v.substr(1));
      ++garbage_records_;
    } else {
      auto decoded = DecodeEntry(seq, v);
      if (!decoded.ok()) {
        error = decoded.status();
        return false;
      }
      e = std::move(*decoded);
      for (uint64_t n : e->audit) next_audit_ = std::max(next_audit_, n + 1);
      obj = ObjKey(e->appt.tenant, e->appt.id);
    }
    uint64_t oldest = seq;
    if (auto old = entries_.find(obj); old != entries_.end()) {
      oldest = old->second.oldest_seq;
      Index(old->second, false);
      Forget(old);
      ++garbage_records_;
    }
    if (tombstone) return true;
    e->durable_seq = seq;
    e->oldest_seq = oldest;
    BookEntry& held = Hold(obj, std::move(*e));
    Index(held, true);
    return true;
  });
  if (!st.ok()) return st;
  if (!error.ok()) return error;
  compactor_.emplace(static_cast<NumberedLog*>(this), first.value_or(next_record_),
                     LogCompactor::Options{LogCompactor::Commits::kOneCommit, /*chain=*/false});
  return absl::OkStatus();
}

BookEntry* AppointmentLog::Find(uint32_t tenant, std::string_view id) {
  auto it = entries_.find(ObjKey(tenant, id));
  return it == entries_.end() ? nullptr : &it->second;
}

const BookEntry* AppointmentLog::Find(uint32_t tenant, std::string_view id) const {
  auto it = entries_.find(ObjKey(tenant, id));
  return it == entries_.end() ? nullptr : &it->second;
}

BookEntry& AppointmentLog::Add(const std::string& obj, BookEntry e) { return Hold(obj, std::move(e)); }

const absl::flat_hash_set<BookEntry*>& AppointmentLog::OfTenant(uint32_t tenant) const {
  static const absl::flat_hash_set<BookEntry*> kNone;
  auto it = by_tenant_.find(tenant);
  return it == by_tenant_.end() ? kNone : it->second;
}

BookEntry& AppointmentLog::Hold(const std::string& obj, BookEntry e) {
  auto [it, added] = entries_.emplace(obj, std::move(e));
  if (added) by_tenant_[it->second.appt.tenant].insert(&it->second);
  return it->second;
}

void AppointmentLog::Forget(absl::node_hash_map<std::string, BookEntry>::iterator it) {
  if (auto t = by_tenant_.find(it->second.appt.tenant); t != by_tenant_.end()) {
    t->second.erase(&it->second);
    if (t->second.empty()) by_tenant_.erase(t);
  }
  entries_.erase(it);
}

void AppointmentLog::Index(const BookEntry& e, bool add) {
  const Appointment& a = e.appt;
  BookEntry* entry = const_cast<BookEntry*>(&e);
  std::string calendar = ObjKey(a.tenant, a.calendar);
  std::string patient = ObjKey(a.tenant, a.patient);
  if (add) {
    by_calendar_.Add(calendar, entry);
    by_patient_.Add(patient, entry);
  } else {
    by_calendar_.Remove(calendar, entry);
    by_patient_.Remove(patient, entry);
  }
}

std::vector<BookEntry*> AppointmentLog::OfCalendar(uint32_t tenant, const std::string& calendar,
                                                   int64_t from_ms, int64_t to_ms) const {
  return by_calendar_.InRange(ObjKey(tenant, calendar), from_ms, to_ms);
}

std::vector<BookEntry*> AppointmentLog::OfPatient(uint32_t tenant, const std::string& patient,
                                                  int64_t from_ms, int64_t to_ms) const {
  return by_patient_.InRange(ObjKey(tenant, patient), from_ms, to_ms);
}

void AppointmentLog::StartIndex::Add(const std::string& owner, BookEntry* e) {
  owners_[owner][Bucket(e->appt.start_ms)].push_back(e);
}

void AppointmentLog::StartIndex::Remove(const std::string& owner, BookEntry* e) {
  auto o = owners_.find(owner);
  if (o == owners_.end()) return;
  auto b = o->second.find(Bucket(e->appt.start_ms));
  if (b == o->second.end()) return;
  auto& v = b->second;
  if (auto it = std::find(v.begin(), v.end(), e); it != v.end()) {
    *it = v.back();
    v.pop_back();
  }
  if (v.empty()) o->second.erase(b);
  if (o->second.empty()) owners_.erase(o);
}

std::vector<BookEntry*> AppointmentLog::StartIndex::InRange(const std::string& owner,
                                                            int64_t from_ms, int64_t to_ms) const {
  std::vector<BookEntry*> out;
  auto o = owners_.find(owner);
  if (o == owners_.end() || to_ms <= from_ms) return out;
  auto take = [&](const std::vector<BookEntry*>& v) {
    for (BookEntry* e : v) {
      if (e->appt.start_ms >= from_ms && e->appt.start_ms < to_ms) out.push_back(e);
    }
  };
  const auto& buckets = o->second;
  int64_t first = Bucket(from_ms), last = Bucket(to_ms - 1);
  if (static_cast<uint64_t>(last - first) >= buckets.size()) {
    for (const auto& [bucket, v] : buckets) {
      if (bucket >= first && bucket <= last) take(v);
    }
  } else {
    for (int64_t bucket = first; bucket <= last; ++bucket) {
      if (auto b = buckets.find(bucket); b != buckets.end()) take(b->second);
    }
  }
  std::sort(out.begin(), out.end(), [](const BookEntry* x, const BookEntry* y) {
    return x->appt.start_ms != y->appt.start_ms ? x->appt.start_ms < y->appt.start_ms
                                                : x->appt.id < y->appt.id;
  });
  return out;
}

StateOp AppointmentLog::RecordWrite(BookEntry& e, Change& change) {
  if (change.first_record == 0) change.first_record = next_record_;
  if (e.seq < change.first_record) {
    // Written by an earlier change (or never): the new version is appended
    // and the old one, if any, becomes garbage.
    if (e.seq != 0) ++garbage_records_;
    e.seq = next_record_++;
    if (e.oldest_seq == 0) e.oldest_seq = e.seq;
  }
  change.records.emplace_back(ObjKey(e.appt.tenant, e.appt.id), e.seq);
  return StatePut(NumberedKey("pa/", e.seq), EncodeEntry(e));
}

StateOp AppointmentLog::Rewrite(const BookEntry& e) {
  return StatePut(NumberedKey("pa/", e.seq), EncodeEntry(e));
}

void AppointmentLog::NewAudit(BookEntry& e, std::string lines, Engine::StateWrites* writes) {
  while (e.audit.size() >= kMaxAuditPerAppointment) {
    writes->push_back(StateDelete(NumberedKey("au/", e.audit.front())));
    e.audit.erase(e.audit.begin());
  }
  uint64_t n = next_audit_++;
  e.audit.push_back(n);
  writes->push_back(StatePut(NumberedKey("au/", n), std::move(lines)));
}

void AppointmentLog::Committed(const std::vector<std::pair<std::string, uint64_t>>& records) {
  for (const auto& [obj, seq] : records) {
    auto it = entries_.find(obj);
    if (it == entries_.end()) continue;
    BookEntry& e = it->second;
    if (e.durable_seq < seq) e.durable_seq = seq;
    // (An earlier change refused after this one was built may have
    // reloaded a lower number: this one is later.)
    if (e.seq < seq) e.seq = seq;
  }
}

void AppointmentLog::Reload(const std::vector<std::string>& entry_keys) {
  auto reader = engine_->store().NewReader();
  for (const std::string& obj : entry_keys) {
    auto it = entries_.find(obj);
    if (it == entries_.end()) continue;
    uint64_t seq = it->second.durable_seq;
    uint64_t oldest = it->second.oldest_seq;
    Index(it->second, false);
    Forget(it);
    if (!reader.ok() || seq == 0) continue;  // 0: its creation failed
    auto bytes = reader->GetState(NumberedKey("pa/", seq));
    if (!bytes.ok() || !bytes->has_value()) continue;  // its creation failed
    auto e = DecodeEntry(seq, **bytes);
    if (!e.ok()) continue;
    e->durable_seq = seq;
    e->oldest_seq = oldest != 0 ? std::min(oldest, seq) : seq;
    BookEntry& held = Hold(obj, std::move(*e));
    Index(held, true);
  }
}

void AppointmentLog::Purge(const std::vector<std::string>& objs, Engine::StateWrites* writes) {
  for (const std::string& obj : objs) {
    auto it = entries_.find(obj);
    if (it == entries_.end()) continue;
    const BookEntry& e = it->second;
    if (e.oldest_seq == e.seq) {
      writes->push_back(StateDelete(NumberedKey("pa/", e.seq)));  // its only version
    } else {
      // Older versions wait for the reclaim: a tombstone above them all,
      // and the last version becomes garbage too.
      writes->push_back(StatePut(NumberedKey("pa/", next_record_++), std::string(1, '\0') + obj));
      garbage_records_ += 2;
    }
    for (uint64_t n : e.audit) writes->push_back(StateDelete(NumberedKey("au/", n)));
    Index(e, false);
    Forget(it);
  }
}

bool AppointmentLog::HasGarbage() const {
  return cycle_next_ < cycle_.size() ||
         garbage_records_ >= std::max<uint64_t>(options_.min_record_garbage, entries_.size());
}

absl::StatusOr<NumberedLog::Step> AppointmentLog::PrepareStep(uint64_t lo, uint64_t) {
  if (cycle_next_ >= cycle_.size()) {
    // A cycle: every live version below cycle_end_ is appended again,
    // oldest first, a step at a time, and the numbers below each step's
    // last one deleted. (A version rewritten meanwhile has moved above
    // cycle_end_: its old number is garbage like the rest.)
    cycle_.clear();
    cycle_next_ = 0;
    cycle_.reserve(entries_.size());
    for (const auto& [obj, e] : entries_) {
      if (e.seq != 0) cycle_.emplace_back(e.seq, obj);  // 0: never written
    }
    std::sort(cycle_.begin(), cycle_.end());
    cycle_end_ = next_record_;
    garbage_at_cycle_start_ = garbage_records_;
  }
  step_ = Change{};
  step_.now = engine_->NowMs();
  step_.first_record = next_record_;
  size_t relocated = 0;
  while (cycle_next_ < cycle_.size() && relocated < options_.records_per_compaction) {
    const auto& [seq, obj] = cycle_[cycle_next_++];
    auto it = entries_.find(obj);
    if (it == entries_.end() || it->second.seq != seq) continue;  // purged or rewritten
    // The writer copies the stored version to a new number (no re-encoding
    // here): every write of it submitted before this step lands first, and
    // every later one goes to the new number.
    BookEntry& e = it->second;
    if (e.durable_seq == 0) {
      // Its creation is still in flight (or was refused): the range must
      // stop below it; the next step takes it up again.
      --cycle_next_;
      break;
    }
    StateOp copy = StatePut(NumberedKey("pa/", next_record_), std::string());
    copy.copy_from = NumberedKey("pa/", e.seq);
    // A change in flight wrote e.seq; if it is refused (an invalid item
    // refuses a whole change, without failing what follows), the durable
    // version is the one to copy.
    if (e.durable_seq != e.seq) copy.copy_fallback = NumberedKey("pa/", e.durable_seq);
    e.seq = next_record_++;
    e.oldest_seq = e.seq;  // every older version is below the range's end
    step_.touched.push_back(obj);
    step_.records.emplace_back(obj, e.seq);
    step_.Write(std::move(copy));
    ++relocated;
  }
  step_ends_cycle_ = cycle_next_ >= cycle_.size();
  uint64_t hi = step_ends_cycle_ ? cycle_end_ : cycle_[cycle_next_].first;
  if (relocated == 0 && hi <= lo) return Step{lo};  // held up: nothing to do yet
  // (Relocated records were at lo or above, below hi: so hi > lo.)
  RAPPEL_CHECK(hi > lo);
  return Step{hi};
}

void AppointmentLog::CommitCopies(uint64_t lo, uint64_t hi, bool and_delete, Done done) {
  RAPPEL_CHECK(and_delete);  // one commit a step
  StateOp range = StateDelete(NumberedKey("pa/", lo));
  range.range_end = NumberedKey("pa/", hi);
  step_.Write(std::move(range));
  if (step_ends_cycle_) {
    // What is left is the garbage made since the cycle began.
    garbage_records_ -= std::min(garbage_records_, garbage_at_cycle_start_);
  }
  submit_(std::move(step_), [this, done = std::move(done)](absl::Status st) {
    if (!st.ok()) {
      // Nothing of the step landed: the cycle starts over from the floor.
      cycle_.clear();
      cycle_next_ = 0;
    }
    done(st);
  });
}

void AppointmentLog::CommitDelete(uint64_t, uint64_t, Done done) {
  done(absl::InternalError("the appointment log deletes in the copies' commit"));
}

}  // namespace rappel::server::plan
