#include "server/replication/batch_codec.h"

#include <xxhash.h>

#include <random>
#include <string>

#include "gtest/gtest.h"

namespace rappel::server {
namespace {

std::string RandomBytes(std::mt19937_64& rng, size_t max_size) {
  std::string s(rng() % (max_size + 1), '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}
std::string NonEmpty(std::mt19937_64& rng, size_t max_size) {
  std::string s = RandomBytes(rng, max_size);
  return s.empty() ? std::string("x") : s;
}

// A group holding every kind of write the store knows, canonical (only the
// fields the store acts on are set).
ReplGroup RandomGroup(std::mt19937_64& rng) {
  ReplGroup g;
  g.prev = {rng() % 5, rng()};
  g.pos = {g.prev.term + rng() % 2, g.prev.index + 1};
  g.commit_unix_ms = rng();
  SeqNo seq = rng() % 1000;
  int batches = static_cast<int>(rng() % 6);
  for (int b = 0; b < batches; ++b) {
    auto batch = std::make_shared<WriteBatch>();
    for (int i = 0, n = static_cast<int>(rng() % 5); i < n; ++i) {
      seq += 1 + rng() % (i == 0 ? (uint64_t{1} << 40) : 3);
      batch->Append(seq, RandomBytes(rng, 300));
    }
    for (int i = 0, n = static_cast<int>(rng() % 3); i < n; ++i) {
      SeqNo lo = rng();
      batch->DeleteLogRange(lo, lo + 1 + rng() % 100);
    }
    std::vector<WriteBatch::StateOp> ops;
    for (int i = 0, n = static_cast<int>(rng() % 6); i < n; ++i) {
      std::string key = RandomBytes(rng, 20);
      switch (rng() % 5) {
        case 0:
          ops.push_back(StatePut(key, RandomBytes(rng, 50)));
          break;
        case 1:
          ops.push_back(StateDelete(key));
          break;
        case 2:
          ops.push_back({key, "", true, key + NonEmpty(rng, 5)});
          break;
        case 3: {
          WriteBatch::StateOp op{key, "", false};
          op.copy_from = NonEmpty(rng, 20);
          ops.push_back(op);
          break;
        }
        default: {
          WriteBatch::StateOp op{key, "", false};
          op.copy_from = NonEmpty(rng, 20);
          op.copy_fallback = NonEmpty(rng, 20);
          ops.push_back(op);
        }
      }
    }
    batch->AddStateOps(std::move(ops));
    g.batches.push_back(std::move(batch));
  }
  return g;
}

void ExpectSameGroup(const ReplGroup& a, const ReplGroup& b) {
  EXPECT_EQ(a.prev, b.prev);
  EXPECT_EQ(a.pos, b.pos);
  EXPECT_EQ(a.commit_unix_ms, b.commit_unix_ms);
  ASSERT_EQ(a.batches.size(), b.batches.size());
  for (size_t i = 0; i < a.batches.size(); ++i) {
    const WriteBatch& x = *a.batches[i];
    const WriteBatch& y = *b.batches[i];
    ASSERT_EQ(x.log_records().size(), y.log_records().size());
    for (size_t r = 0; r < x.log_records().size(); ++r) {
      EXPECT_EQ(x.log_records()[r].seq, y.log_records()[r].seq);
      EXPECT_EQ(x.record_bytes(r), y.record_bytes(r));
    }
    ASSERT_EQ(x.deleted_ranges().size(), y.deleted_ranges().size());
    for (size_t r = 0; r < x.deleted_ranges().size(); ++r) {
      EXPECT_EQ(x.deleted_ranges()[r].lo, y.deleted_ranges()[r].lo);
      EXPECT_EQ(x.deleted_ranges()[r].hi, y.deleted_ranges()[r].hi);
    }
    ASSERT_EQ(x.state_ops().size(), y.state_ops().size());
    for (size_t o = 0; o < x.state_ops().size(); ++o) {
      const auto& p = x.state_ops()[o];
      const auto& q = y.state_ops()[o];
      EXPECT_EQ(p.key, q.key);
      EXPECT_EQ(p.value, q.value);
      EXPECT_EQ(p.is_delete, q.is_delete);
      EXPECT_EQ(p.range_end, q.range_end);
      EXPECT_EQ(p.copy_from, q.copy_from);
      EXPECT_EQ(p.copy_fallback, q.copy_fallback);
    }
  }
}

// `body` with a valid checksum: malformed content the checksum cannot catch.
std::string Sealed(std::string body) {
  uint64_t h = XXH64(body.data(), body.size(), 0);
  for (int i = 0; i < 8; ++i) body.push_back(static_cast<char>(h >> (8 * i)));
  return body;
}
std::string Unsealed(const std::string& bytes) { return bytes.substr(0, bytes.size() - 8); }

TEST(BatchCodecTest, RandomGroupsOfEveryOpKindRoundTrip) {
  std::mt19937_64 rng(21);
  for (int i = 0; i < 500; ++i) {
    ReplGroup g = RandomGroup(rng);
    std::string bytes = EncodeGroup(g);
    auto decoded = DecodeGroup(bytes);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    ExpectSameGroup(g, *decoded);
    EXPECT_EQ(EncodeGroup(*decoded), bytes);
  }
}

TEST(BatchCodecTest, EncodesAfterWhatIsAlreadyInTheBuffer) {
  std::mt19937_64 rng(5);
  ReplGroup g = RandomGroup(rng);
  std::string out = "prefix";
  EncodeGroup(g, out);
  EXPECT_EQ(out.substr(6), EncodeGroup(g));
}

TEST(BatchCodecTest, FieldsTheStoreIgnoresAreNotShipped) {
  auto b = std::make_shared<WriteBatch>();
  WriteBatch::StateOp del{"k", "stale value", true};
  del.copy_from = "x";
  WriteBatch::StateOp copy{"c", "ignored", false};
  copy.copy_from = "from";
  copy.range_end = "zz";
  b->AddStateOps({del, copy});
  auto decoded = DecodeGroup(EncodeGroup({{}, {1, 1}, 0, {b}}));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  const auto& ops = decoded->batches[0]->state_ops();
  ASSERT_EQ(ops.size(), 2u);
  EXPECT_TRUE(ops[0].is_delete);
  EXPECT_EQ(ops[0].value, "");
  EXPECT_EQ(ops[0].copy_from, "");
  EXPECT_FALSE(ops[1].is_delete);
  EXPECT_EQ(ops[1].value, "");
  EXPECT_EQ(ops[1].copy_from, "from");
  EXPECT_EQ(ops[1].range_end, "");
}

TEST(BatchCodecTest, EveryTruncationAndEveryBitFlipIsRejected) {
  std::mt19937_64 rng(7);
  for (int round = 0; round < 20; ++round) {
    std::string bytes = EncodeGroup(RandomGroup(rng));
    for (size_t len = 0; len < bytes.size(); ++len) {
      auto st = DecodeGroup(std::string_view(bytes).substr(0, len)).status();
      EXPECT_TRUE(absl::IsInvalidArgument(st) || absl::IsDataLoss(st)) << len << ": " << st;
    }
    for (size_t bit = 0; bit < bytes.size() * 8; ++bit) {
      std::string flipped = bytes;
      flipped[bit / 8] ^= static_cast<char>(1 << (bit % 8));
      EXPECT_TRUE(absl::IsDataLoss(DecodeGroup(flipped).status())) << bit;
    }
  }
}

TEST(BatchCodecTest, MalformedContentUnderAValidChecksumIsRejected) {
  ReplGroup g;
  g.pos = {1, 1};
  auto b = std::make_shared<WriteBatch>();
  b->Append(5, "abc");
  b->PutState("k", "v");
  g.batches.push_back(b);
  std::string body = Unsealed(EncodeGroup(g));
  auto invalid = [](const std::string& bytes) {
    return absl::IsInvalidArgument(DecodeGroup(bytes).status());
  };
  // Trailing bytes; every truncation of the body.
  EXPECT_TRUE(invalid(Sealed(body + '\0')));
  for (size_t len = 0; len < body.size(); ++len) EXPECT_TRUE(invalid(Sealed(body.substr(0, len))));
  // An unknown version.
  std::string v2 = body;
  v2[0] = 2;
  EXPECT_TRUE(invalid(Sealed(v2)));
  // Absurd counts: a batch count of 2^63 (header: version, 5 varints of 1
  // byte each here).
  std::string header = body.substr(0, 6);
  EXPECT_TRUE(invalid(Sealed(header + "\xff\xff\xff\xff\xff\xff\xff\xff\x7f")));
  // A varint longer than 64 bits.
  EXPECT_TRUE(invalid(Sealed(header + std::string(11, '\xff'))));
  // A record size larger than the input.
  EXPECT_TRUE(invalid(Sealed(header + "\x01\x01\x05\xff\xff\x03")));
  // Sequence numbers going down, an empty range, contradictory op flags,
  // an unknown flag, an empty state range.
  auto with = [&](auto fill) {
    ReplGroup h;
    h.pos = {1, 1};
    auto batch = std::make_shared<WriteBatch>();
    fill(*batch);
    h.batches.push_back(batch);
    return Unsealed(EncodeGroup(h));
  };
  std::string seqs = with([](WriteBatch& w) {
    w.Append(9, "a");
    w.Append(10, "b");
  });
  seqs[seqs.find('\x0a')] = '\x08';  // 10 -> 8
  EXPECT_TRUE(invalid(Sealed(seqs)));
  std::string range = with([](WriteBatch& w) { w.DeleteLogRange(3, 4); });
  range[range.size() - 3] = '\x04';  // lo 4, hi 4 (then the op count)
  EXPECT_TRUE(invalid(Sealed(range)));
  std::string put = with([](WriteBatch& w) { w.PutState("k", "v"); });
  size_t flags_at = put.size() - 5;  // flags, 1 "k", 1 "v"
  ASSERT_EQ(put[flags_at], 2);
  for (char bad : {'\x03', '\x06', '\x0a', '\x12', '\x20', '\x80'}) {
    std::string p = put;
    p[flags_at] = bad;
    EXPECT_TRUE(invalid(Sealed(p))) << static_cast<int>(bad);
  }
  std::string state_range = with([](WriteBatch& w) { w.DeleteStateRange("b", "c"); });
  state_range.back() = 'a';  // range_end "a" <= key "b"
  EXPECT_TRUE(invalid(Sealed(state_range)));
}

}  // namespace
}  // namespace rappel::server
