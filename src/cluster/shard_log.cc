#include "cluster/shard_log.h"

#include <nats/nats.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <thread>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/logging.h"
#include "common/strings.h"

namespace proximadb::cluster {

namespace {

using Clock = std::chrono::steady_clock;
constexpr jsErrCode kNoJsError = static_cast<jsErrCode>(0);

std::string Subject(std::string_view stream) { return Cat("proximadb.log.", stream); }

absl::Status CheckName(std::string_view name) {
  const bool ok = !name.empty() && name.size() <= 200 &&
                  std::all_of(name.begin(), name.end(), [](char c) {
                    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' ||
                           c == '_';
                  });
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(
      Cat("stream name '", name, "': use 1 to 200 letters, digits, '-' or '_'"));
}

// A libnats failure as a Status: the JetStream error code, when there is one, decides.
absl::Status NatsError(natsStatus s, jsErrCode jerr, std::string_view what) {
  natsStatus last = NATS_OK;  // this thread's last libnats error, if it is this one's
  const char* detail = nats_GetLastError(&last);
  std::string text = Cat(what, ": ", natsStatus_GetText(s));
  if (jerr != 0) AppendCat(&text, " (JetStream error ", static_cast<int>(jerr), ")");
  if (last == s && detail != nullptr && *detail != '\0') AppendCat(&text, ": ", detail);
  if (jerr == JSStreamWrongLastSequenceErr) return absl::FailedPreconditionError(text);
  if (jerr == JSStreamNotFoundErr) return absl::NotFoundError(text);
  switch (s) {
    case NATS_TIMEOUT:
      return absl::DeadlineExceededError(text);
    case NATS_NO_RESPONDERS:
    case NATS_CONNECTION_CLOSED:
    case NATS_CONNECTION_DISCONNECTED:
    case NATS_NO_SERVER:
    case NATS_STALE_CONNECTION:
    case NATS_IO_ERROR:
      return absl::UnavailableError(text);
    default:
      return jerr == JSClusterNotAvailErr ? absl::UnavailableError(text)
                                          : absl::InternalError(text);
  }
}

// Whether an append that failed so may succeed if sent again (with the same id): no server
// answered, the connection broke (libnats reconnects to another server), or the stream is
// between leaders.
bool Retryable(natsStatus s, jsErrCode jerr) {
  return s == NATS_TIMEOUT || s == NATS_NO_RESPONDERS || s == NATS_CONNECTION_DISCONNECTED ||
         s == NATS_STALE_CONNECTION || s == NATS_IO_ERROR || jerr == JSClusterNotAvailErr;
}

// Runs `call` (a libnats call that sets a JetStream error code) until it succeeds, fails in a
// way retrying cannot change, or `deadline_ms` has passed; returns its last result.
template <typename Call>
natsStatus WithRetries(int deadline_ms, jsErrCode* jerr, Call call) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(deadline_ms);
  auto backoff = std::chrono::milliseconds(20);
  while (true) {
    *jerr = kNoJsError;
    const natsStatus s = call(jerr);
    if (s == NATS_OK || !Retryable(s, *jerr) || Clock::now() + backoff >= deadline) return s;
    std::this_thread::sleep_for(backoff);  // no leader yet: try again
    backoff = std::min(backoff * 2, std::chrono::milliseconds(500));
  }
}

}  // namespace

struct ShardLog::Handles {
  natsConnection* conn = nullptr;
  jsCtx* js = nullptr;
  ~Handles() {
    jsCtx_Destroy(js);
    natsConnection_Destroy(conn);
  }
};

struct LogReader::Sub {
  natsSubscription* sub = nullptr;
  ~Sub() {
    natsSubscription_Unsubscribe(sub);
    natsSubscription_Destroy(sub);
  }
};

ShardLog::ShardLog(ShardLogOptions options)
    : options_(std::move(options)), handles_(std::make_unique<Handles>()) {}

ShardLog::~ShardLog() = default;

absl::StatusOr<std::unique_ptr<ShardLog>> ShardLog::Connect(ShardLogOptions options) {
  if (options.urls.empty()) return absl::InvalidArgumentError("nats_urls: at least one is needed");
  std::unique_ptr<ShardLog> log(new ShardLog(std::move(options)));
  std::vector<const char*> urls;
  for (const std::string& u : log->options_.urls) urls.push_back(u.c_str());
  natsOptions* opts = nullptr;
  natsStatus s = natsOptions_Create(&opts);
  if (s == NATS_OK) s = natsOptions_SetServers(opts, urls.data(), static_cast<int>(urls.size()));
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(opts, -1);  // a server may come back
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(opts, 100);
  if (s == NATS_OK) s = natsOptions_SetTimeout(opts, 2000);
  if (s == NATS_OK) s = natsConnection_Connect(&log->handles_->conn, opts);
  natsOptions_Destroy(opts);
  if (s != NATS_OK) {
    return NatsError(s, kNoJsError,
                     Cat("connect to NATS at ", absl::StrJoin(log->options_.urls, ", ")));
  }
  jsOptions js_opts;
  jsOptions_Init(&js_opts);
  js_opts.Wait = log->options_.request_timeout_ms;
  s = natsConnection_JetStream(&log->handles_->js, log->handles_->conn, &js_opts);
  if (s != NATS_OK) return NatsError(s, kNoJsError, "JetStream context");
  return log;
}

absl::Status ShardLog::EnsureStream(std::string_view name, int replicas) {
  if (absl::Status s = CheckName(name); !s.ok()) return s;
  if (replicas < 1 || replicas > 5) {
    return absl::InvalidArgumentError(Cat("replicas: ", replicas, " is not between 1 and 5"));
  }
  const std::string stream(name), subject = Subject(name);
  const char* subjects[] = {subject.c_str()};
  jsStreamConfig config;
  jsStreamConfig_Init(&config);
  config.Name = stream.c_str();
  config.Subjects = subjects;
  config.SubjectsLen = 1;
  config.Storage = js_FileStorage;
  config.Replicas = replicas;
  config.DenyDelete = true;  // entries go only by TrimBefore, from the front
  // The window in which a second append with the same id is dropped: longer than an append
  // keeps retrying it.
  config.Duplicates = std::max<int64_t>(int64_t{120} * 1000 * 1000 * 1000,
                                        int64_t{2} * options_.retry_deadline_ms * 1000 * 1000);
  jsStreamInfo* info = nullptr;
  jsErrCode jerr = kNoJsError;
  // Retried like an append: right after the servers start, JetStream may have no leader yet.
  natsStatus s = WithRetries(options_.retry_deadline_ms, &jerr, [&](jsErrCode* e) {
    return js_AddStream(&info, handles_->js, &config, nullptr, e);
  });
  if (s == NATS_OK) {
    jsStreamInfo_Destroy(info);
    return absl::OkStatus();
  }
  if (jerr != JSStreamNameExistErr) return NatsError(s, jerr, Cat("create stream ", name));
  // It exists with another configuration: say how it differs.
  absl::StatusOr<StreamState> state = State(name);
  if (!state.ok()) return state.status();
  return absl::AlreadyExistsError(
      Cat("stream ", name, " exists with another configuration than ", replicas,
          " replicas on subject ", subject, " (it has ", state->replicas.size() + 1,
          " replicas)"));
}

absl::Status ShardLog::DeleteStream(std::string_view name) {
  if (absl::Status s = CheckName(name); !s.ok()) return s;
  jsErrCode jerr = kNoJsError;
  const natsStatus s = js_DeleteStream(handles_->js, std::string(name).c_str(), nullptr, &jerr);
  return s == NATS_OK ? absl::OkStatus() : NatsError(s, jerr, Cat("delete stream ", name));
}

absl::StatusOr<uint64_t> ShardLog::Append(std::string_view stream, std::string_view payload,
                                          uint64_t expected_last, std::string_view id) {
  if (id.empty()) return absl::InvalidArgumentError("append: an id is needed");
  return Publish(stream, payload, expected_last, id);
}

absl::StatusOr<uint64_t> ShardLog::Mark(std::string_view stream) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  const uint64_t hi = rng(), lo = rng();
  return Publish(stream, "", std::nullopt, absl::StrFormat("mark-%016x%016x", hi, lo));
}

absl::StatusOr<uint64_t> ShardLog::Publish(std::string_view stream, std::string_view payload,
                                           std::optional<uint64_t> expected_last,
                                           std::string_view id) {
  if (absl::Status s = CheckName(stream); !s.ok()) return s;
  const std::string subject = Subject(stream), stream_name(stream), msg_id(id);
  jsPubOptions opts;
  jsPubOptions_Init(&opts);
  opts.MsgId = msg_id.c_str();
  opts.ExpectStream = stream_name.c_str();
  if (expected_last.has_value()) {
    opts.ExpectLastSeq = *expected_last;       // 0 means "not set" to JetStream,
    opts.ExpectNoMessage = *expected_last == 0;  // so an empty stream is asked for this way
  }
  jsPubAck* ack = nullptr;
  jsErrCode jerr = kNoJsError;
  const natsStatus s = WithRetries(options_.retry_deadline_ms, &jerr, [&](jsErrCode* e) {
    natsStatus published = js_Publish(&ack, handles_->js, subject.c_str(), payload.data(),
                                      static_cast<int>(payload.size()), &opts, e);
    if (published == NATS_OK && ack->Sequence == 0) {
      // A retry that reached the leader while the first send of that id was still being
      // stored is answered "duplicate" with position 0 by servers without
      // nats-io/nats-server#5827 (August 2024; Debian 12's 2.9.10 predates it): not a
      // position. Asked again, the server answers the first send's position once it is
      // stored, or stores this one if the first was not.
      jsPubAck_Destroy(ack);
      ack = nullptr;
      published = NATS_TIMEOUT;
      Log(LogLevel::kInfo, Cat("append to ", stream, " (id ", msg_id, ") answered duplicate "
                               "at position 0: asking again"));
    }
    return published;
  });
  if (s != NATS_OK) return NatsError(s, jerr, Cat("append to ", stream));
  const uint64_t seq = ack->Sequence;
  jsPubAck_Destroy(ack);
  return seq;
}

absl::StatusOr<StreamState> ShardLog::State(std::string_view stream) {
  if (absl::Status s = CheckName(stream); !s.ok()) return s;
  jsStreamInfo* info = nullptr;
  jsErrCode jerr = kNoJsError;
  const std::string name(stream);
  const natsStatus s = WithRetries(options_.retry_deadline_ms, &jerr, [&](jsErrCode* e) {
    return js_GetStreamInfo(&info, handles_->js, name.c_str(), nullptr, e);
  });
  if (s != NATS_OK) return NatsError(s, jerr, Cat("state of stream ", stream));
  StreamState out;
  out.first_seq = info->State.Msgs == 0 ? 0 : info->State.FirstSeq;
  out.last_seq = info->State.LastSeq;
  out.entries = info->State.Msgs;
  out.bytes = info->State.Bytes;
  if (info->Cluster != nullptr) {
    if (info->Cluster->Leader != nullptr) out.leader = info->Cluster->Leader;
    for (int i = 0; i < info->Cluster->ReplicasLen; ++i) {
      const jsPeerInfo* peer = info->Cluster->Replicas[i];
      out.replicas.push_back({peer->Name, peer->Current && !peer->Offline, peer->Lag});
    }
  }
  jsStreamInfo_Destroy(info);
  return out;
}

absl::Status ShardLog::TrimBefore(std::string_view stream, uint64_t seq) {
  // The last entry always stays: an append to an emptied stream would pass the condition
  // "the stream is empty" (JetStream checks it as "no entry on the subject").
  absl::StatusOr<StreamState> state = State(stream);
  if (!state.ok()) return state.status();
  if (seq > state->last_seq) {
    return absl::InvalidArgumentError(Cat("trim of stream ", stream, " before ", seq,
                                          ": the last entry (", state->last_seq,
                                          ") must stay"));
  }
  jsOptions opts;
  jsOptions_Init(&opts);
  opts.Stream.Purge.Sequence = seq;  // "up to but not including"
  jsErrCode jerr = kNoJsError;
  const natsStatus s = js_PurgeStream(handles_->js, std::string(stream).c_str(), &opts, &jerr);
  return s == NATS_OK ? absl::OkStatus() : NatsError(s, jerr, Cat("trim stream ", stream));
}

absl::StatusOr<std::unique_ptr<LogReader>> ShardLog::Read(std::string_view stream,
                                                          uint64_t from_seq) {
  if (absl::Status s = CheckName(stream); !s.ok()) return s;
  if (from_seq == 0) return absl::InvalidArgumentError("read: sequences start at 1");
  const std::string name(stream), subject = Subject(stream);
  jsSubOptions opts;
  jsSubOptions_Init(&opts);
  opts.Stream = name.c_str();
  opts.Ordered = true;  // ephemeral, in order, recreated by libnats on a gap
  opts.Config.DeliverPolicy = js_DeliverByStartSequence;
  opts.Config.OptStartSeq = from_seq;
  auto sub = std::make_unique<LogReader::Sub>();
  jsErrCode jerr = kNoJsError;
  const natsStatus s = WithRetries(options_.retry_deadline_ms, &jerr, [&](jsErrCode* e) {
    return js_SubscribeSync(&sub->sub, handles_->js, subject.c_str(), nullptr, &opts, e);
  });
  if (s != NATS_OK) return NatsError(s, jerr, Cat("read stream ", stream));
  return std::unique_ptr<LogReader>(new LogReader(std::move(sub)));
}

LogReader::LogReader(std::unique_ptr<Sub> sub) : sub_(std::move(sub)) {}
LogReader::~LogReader() = default;

absl::StatusOr<std::optional<LogEntry>> LogReader::Next(int timeout_ms) {
  natsMsg* msg = nullptr;
  const natsStatus s = natsSubscription_NextMsg(&msg, sub_->sub, timeout_ms);
  if (s == NATS_TIMEOUT) return std::nullopt;
  if (s != NATS_OK) return NatsError(s, kNoJsError, "read the next entry");
  jsMsgMetaData* meta = nullptr;
  const natsStatus m = natsMsg_GetMetaData(&meta, msg);
  if (m != NATS_OK) {
    natsMsg_Destroy(msg);
    return NatsError(m, kNoJsError, "an entry's sequence");
  }
  LogEntry entry{meta->Sequence.Stream,
                 std::string(natsMsg_GetData(msg),
                             static_cast<size_t>(natsMsg_GetDataLength(msg))),
                 meta->NumPending};
  jsMsgMetaData_Destroy(meta);
  natsMsg_Destroy(msg);
  return entry;
}

}  // namespace proximadb::cluster
