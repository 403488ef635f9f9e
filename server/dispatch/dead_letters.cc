#include "server/dispatch/dead_letters.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/common/bytes.h"

namespace rappel::server {
namespace {

constexpr std::string_view kDeadPrefix = "dl/";
constexpr uint8_t kDeadFormat = 1;
constexpr size_t kDeadKeyBytes = 3 + 4 + 8 + 16;

std::string DeadTenantPrefix(TenantId t) {
  std::string k(kDeadPrefix);
  PutBE(&k, t.value, 4);
  return k;
}

std::string DeadKey(TenantId t, int64_t dead_at_ms, const KeyHash& h) {
  std::string k = DeadTenantPrefix(t);
  PutBE(&k, static_cast<uint64_t>(std::max<int64_t>(dead_at_ms, 0)), 8);
  PutBE(&k, h.lo, 8);
  PutBE(&k, h.hi, 8);
  return k;
}

std::string EncodeDead(const DeadLetter& d) {
  std::string v(1, static_cast<char>(kDeadFormat));
  PutBE(&v, d.attempts, 4);
  PutBE(&v, d.last_detail.size(), 4);
  v.append(d.last_detail);
  EncodeReminder(d.reminder, &v);  // checksummed
  return v;
}

absl::StatusOr<DeadLetter> DecodeDead(std::string_view key, std::string_view v) {
  auto bad = [&] { return absl::DataLossError("corrupt dead letter record in the store"); };
  if (key.size() != kDeadKeyBytes || v.size() < 9 || static_cast<uint8_t>(v[0]) != kDeadFormat) {
    return bad();
  }
  DeadLetter d;
  d.dead_at_ms = static_cast<int64_t>(GetBE(key, 7, 8));
  d.attempts = static_cast<uint32_t>(GetBE(v, 1, 4));
  size_t detail = GetBE(v, 5, 4);
  if (v.size() < 9 + detail) return bad();
  d.last_detail.assign(v.substr(9, detail));
  auto rec = DecodeRecord(v.substr(9 + detail));
  if (!rec.ok() || rec->type != RecordType::kReminder) return bad();
  d.reminder = rec->ToSpec();
  return d;
}

}  // namespace

DeadLetters::DeadLetters(Engine* engine, size_t max_dead_letters)
    : engine_(engine), max_dead_letters_(max_dead_letters) {}

absl::Status DeadLetters::Recover(const Store::Reader& reader, Engine::StateWrites* stale) {
  return reader.ScanState(kDeadPrefix, [&](std::string_view k, std::string_view) {
    if (!k.starts_with(kDeadPrefix)) return false;
    if (k.size() != kDeadKeyBytes) return true;  // not ours; left alone
    KeyHash hash{GetBE(k, 15, 8), GetBE(k, 23, 8)};
    Ref ref{TenantId{static_cast<uint32_t>(GetBE(k, 3, 4))}, static_cast<int64_t>(GetBE(k, 7, 8))};
    if (auto it = dead_.find(hash); it != dead_.end()) {
      // Two dead letters of one key (two commits raced): keep the newer.
      Ref old = it->second;
      if (old.dead_at_ms > ref.dead_at_ms) std::swap(old, ref);
      stale->push_back(StateDelete(DeadKey(old.tenant, old.dead_at_ms, hash)));
      Erase(hash);
    }
    Insert(hash, ref);
    return true;
  });
}

void DeadLetters::Insert(const KeyHash& hash, const Ref& ref) {
  dead_[hash] = ref;
  order_.emplace(ref.dead_at_ms, hash.lo, hash.hi);
  ++by_tenant_[ref.tenant.value];
}

void DeadLetters::Erase(const KeyHash& hash) {
  auto it = dead_.find(hash);
  if (it == dead_.end()) return;
  order_.erase(Order{it->second.dead_at_ms, hash.lo, hash.hi});
  if (auto t = by_tenant_.find(it->second.tenant.value); t != by_tenant_.end()) {
    if (--t->second == 0) by_tenant_.erase(t);
  }
  dead_.erase(it);
}

uint64_t DeadLetters::of(TenantId tenant) const {
  auto it = by_tenant_.find(tenant.value);
  return it == by_tenant_.end() ? 0 : it->second;
}

DeadLetters::Added DeadLetters::Add(const KeyHash& hash, const DeadLetter& letter,
                                    Engine::StateWrites* writes) const {
  Added added{hash, letter.reminder.tenant, letter.dead_at_ms, std::nullopt, std::nullopt};
  writes->push_back(StatePut(DeadKey(added.tenant, added.dead_at_ms, hash), EncodeDead(letter)));
  bool replaces = false;
  if (auto it = dead_.find(hash); it != dead_.end()) {
    replaces = true;
    added.replaced_at_ms = it->second.dead_at_ms;
    if (it->second.dead_at_ms != added.dead_at_ms) {
      writes->push_back(StateDelete(DeadKey(it->second.tenant, it->second.dead_at_ms, hash)));
    }
  }
  size_t after = dead_.size() + (replaces ? 0 : 1);
  if (max_dead_letters_ != 0 && after > max_dead_letters_ && !order_.empty()) {
    const auto& [at, lo, hi] = *order_.begin();
    KeyHash oldest{lo, hi};
    if (!(oldest == hash)) {
      added.dropped = oldest;
      writes->push_back(StateDelete(DeadKey(dead_.at(oldest).tenant, at, oldest)));
    }
  }
  return added;
}

void DeadLetters::Committed(const Added& added) {
  const KeyHash& hash = added.hash;
  if (added.dropped && dead_.contains(*added.dropped)) {
    Erase(*added.dropped);
    ++dropped_;
  }
  if (auto it = dead_.find(hash); it != dead_.end()) {
    Ref now = it->second;
    bool deleted = added.replaced_at_ms && *added.replaced_at_ms == now.dead_at_ms;
    if (!deleted && now.dead_at_ms != added.dead_at_ms) {
      // Another dead letter of this key landed since Add looked.
      engine_->WriteState({StateDelete(DeadKey(now.tenant, now.dead_at_ms, hash))},
                          [](absl::Status) {});
    }
    Erase(hash);
  }
  Insert(hash, Ref{added.tenant, added.dead_at_ms});
}

absl::StatusOr<std::vector<DeadLetter>> DeadLetters::List(std::optional<TenantId> tenant,
                                                          size_t limit) const {
  std::vector<DeadLetter> out;
  if (limit == 0) return out;
  auto reader = engine_->store().NewReader();
  if (!reader.ok()) return reader.status();
  absl::Status error;
  if (tenant) {
    // One tenant: its records are contiguous and already oldest first.
    std::string prefix = DeadTenantPrefix(*tenant);
    absl::Status st = reader->ScanState(prefix, [&](std::string_view k, std::string_view v) {
      if (!k.starts_with(prefix)) return false;
      auto d = DecodeDead(k, v);
      if (!d.ok()) {
        error = d.status();
        return false;
      }
      out.push_back(std::move(*d));
      return out.size() < limit;
    });
    if (!st.ok()) return st;
  } else {
    // Every tenant: the in-memory order, then one point read each.
    for (const auto& [at, lo, hi] : order_) {
      if (out.size() >= limit) break;
      KeyHash hash{lo, hi};
      std::string k = DeadKey(dead_.at(hash).tenant, at, hash);
      auto v = reader->GetState(k);
      if (!v.ok()) return v.status();
      if (!v->has_value()) continue;
      auto d = DecodeDead(k, **v);
      if (!d.ok()) return d.status();
      out.push_back(std::move(*d));
    }
  }
  if (!error.ok()) return error;
  return out;
}

void DeadLetters::Replay(const ReminderKey& key, int64_t now_ms,
                         std::function<void(absl::Status)> done) {
  KeyHash hash = HashKey(key.tenant, key.key);
  auto it = dead_.find(hash);
  if (it == dead_.end() || replaying_.contains(hash)) {
    done(absl::NotFoundError(absl::StrCat("no dead letter with key ", key.key)));
    return;
  }
  Ref ref = it->second;
  std::string dkey = DeadKey(ref.tenant, ref.dead_at_ms, hash);
  absl::StatusOr<DeadLetter> letter;
  {
    auto reader = engine_->store().NewReader();
    if (!reader.ok()) {
      done(reader.status());
      return;
    }
    auto v = reader->GetState(dkey);
    if (!v.ok()) {
      letter = v.status();
    } else if (!v->has_value()) {
      letter = absl::NotFoundError(absl::StrCat("no dead letter with key ", key.key));
    } else {
      letter = DecodeDead(dkey, **v);
    }
  }
  if (!letter.ok()) {
    done(letter.status());
    return;
  }
  ReminderSpec spec = std::move(letter->reminder);
  spec.due_ms = now_ms;
  spec.expiry_ms = 0;
  replaying_.insert(hash);
  // One commit: pending again, and no longer a dead letter.
  engine_->Schedule({spec},
                    [this, hash, ref, done = std::move(done)](auto results) {
                      replaying_.erase(hash);
                      absl::Status st = results[0].ok() ? absl::OkStatus() : results[0].status();
                      if (st.ok()) {
                        if (auto it = dead_.find(hash);
                            it != dead_.end() && it->second.dead_at_ms == ref.dead_at_ms) {
                          Erase(hash);
                        }
                      }
                      done(st);
                    },
                    {StateDelete(dkey)});
}

}  // namespace rappel::server
