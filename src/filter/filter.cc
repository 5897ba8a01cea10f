#include "filter/filter.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "filter/json_values.h"

namespace proximadb {

namespace {

using json = nlohmann::json;

const char* TypeName(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::string: return "a string";
    case json::value_t::array: return "an array";
    case json::value_t::object: return "an object";
    default: return "a number";
  }
}

absl::Status Error(const std::string& where, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(where, ": ", what));
}

absl::StatusOr<FilterScalar> ParseScalar(const json& v, const std::string& where) {
  FilterScalar s;
  if (v.is_null()) {
    s.type = FilterScalar::kNull;
  } else if (v.is_boolean()) {
    s.type = FilterScalar::kBool;
    s.boolean = v.get<bool>();
  } else if (v.is_number()) {
    s.type = FilterScalar::kNumber;
    s.number = v.get<double>();
  } else if (v.is_string()) {
    s.type = FilterScalar::kString;
    s.string = v.get<std::string>();
  } else {
    return Error(where, absl::StrCat("expects a string, number, boolean or null, got ",
                                     TypeName(v)));
  }
  return s;
}

class Parser {
 public:
  std::vector<std::string> paths;

  // An object of field conditions and combinators, ANDed; `depth` combinators deep.
  absl::StatusOr<FilterNode> Object(const json& doc, const std::string& where, int depth = 0) {
    if (!doc.is_object()) {
      return Error(where, absl::StrCat("expects an object, got ", TypeName(doc)));
    }
    if (depth > Filter::kMaxDepth) {
      return Error(where, absl::StrCat("nests $and, $or and $not more than ", Filter::kMaxDepth,
                                       " deep"));
    }
    FilterNode node;
    node.kind = FilterNode::kAnd;
    for (const auto& [key, value] : doc.items()) {
      const std::string here = absl::StrCat(where, ".", key);
      if (!key.empty() && key.front() == '$') {
        if (key == "$and" || key == "$or") {
          if (!value.is_array() || value.empty()) {
            return Error(here, absl::StrCat("expects a non-empty array of filters, got ",
                                            value.is_array() ? "an empty array" : TypeName(value)));
          }
          FilterNode group;
          group.kind = key == "$and" ? FilterNode::kAnd : FilterNode::kOr;
          for (size_t i = 0; i < value.size(); ++i) {
            auto child = Object(value[i], absl::StrCat(here, "[", i, "]"), depth + 1);
            if (!child.ok()) return child.status();
            group.children.push_back(*std::move(child));
          }
          node.children.push_back(std::move(group));
        } else if (key == "$not") {
          auto child = Object(value, here, depth + 1);
          if (!child.ok()) return child.status();
          FilterNode negation;
          negation.kind = FilterNode::kNot;
          negation.children.push_back(*std::move(child));
          node.children.push_back(std::move(negation));
        } else {
          return Error(here, "unknown operator (combinators are $and, $or, $not)");
        }
        continue;
      }
      auto status = Field(key, value, here, &node);
      if (!status.ok()) return status;
    }
    return node;
  }

 private:
  // Counts `n` more conditions or operand values; an error past Filter::kMaxTerms.
  absl::Status Terms(size_t n, const std::string& where) {
    terms_ += n;
    if (terms_ <= Filter::kMaxTerms) return absl::OkStatus();
    return Error(where, absl::StrCat("the filter has more than ", Filter::kMaxTerms,
                                     " conditions and operand values"));
  }

  absl::Status Field(const std::string& path, const json& value, const std::string& where,
                     FilterNode* out) {
    if (absl::Status s = Terms(value.is_array() ? value.size() + 1 : 1, where); !s.ok()) return s;
    FilterNode base;
    base.kind = FilterNode::kCondition;
    base.path = path;
    size_t start = 0;
    while (true) {
      const size_t dot = path.find('.', start);
      base.parts.push_back(path.substr(start, dot - start));
      if (base.parts.back().empty()) return Error(where, "the path has an empty segment");
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
    if (std::find(paths.begin(), paths.end(), path) == paths.end()) paths.push_back(path);

    if (!value.is_object()) {
      if (value.is_array()) {
        return Error(where, "expects a value or an object of operators, got an array (use $in)");
      }
      base.op = FilterNode::kEq;
      auto s = ParseScalar(value, where);
      if (!s.ok()) return s.status();
      base.values.push_back(*std::move(s));
      out->children.push_back(std::move(base));
      return absl::OkStatus();
    }
    if (value.empty()) return Error(where, "expects at least one operator");
    for (const auto& [op, operand] : value.items()) {
      const std::string here = absl::StrCat(where, ".", op);
      if (op.empty() || op.front() != '$') {
        return Error(where, absl::StrCat("'", op, "' is not an operator; write nested fields "
                                         "as a dotted path, e.g. \"", path, ".", op, "\""));
      }
      FilterNode c = base;
      if (op == "$eq" || op == "$ne") {
        c.op = op == "$eq" ? FilterNode::kEq : FilterNode::kNe;
        auto s = ParseScalar(operand, here);
        if (!s.ok()) return s.status();
        c.values.push_back(*std::move(s));
      } else if (op == "$gt" || op == "$gte" || op == "$lt" || op == "$lte") {
        c.op = op == "$gt"    ? FilterNode::kGt
               : op == "$gte" ? FilterNode::kGte
               : op == "$lt"  ? FilterNode::kLt
                              : FilterNode::kLte;
        if (!operand.is_number() && !operand.is_string()) {
          return Error(here, absl::StrCat("expects a number or a string, got ",
                                          TypeName(operand)));
        }
        c.values.push_back(*ParseScalar(operand, here));
      } else if (op == "$in" || op == "$nin") {
        c.op = op == "$in" ? FilterNode::kIn : FilterNode::kNin;
        if (!operand.is_array()) {
          return Error(here, absl::StrCat("expects an array, got ", TypeName(operand)));
        }
        if (absl::Status s = Terms(operand.size(), here); !s.ok()) return s;
        for (size_t i = 0; i < operand.size(); ++i) {
          auto s = ParseScalar(operand[i], absl::StrCat(here, "[", i, "]"));
          if (!s.ok()) return s.status();
          c.values.push_back(*std::move(s));
        }
      } else if (op == "$exists") {
        c.op = FilterNode::kExists;
        if (!operand.is_boolean()) {
          return Error(here, absl::StrCat("expects a boolean, got ", TypeName(operand)));
        }
        c.exists = operand.get<bool>();
      } else {
        return Error(here, "unknown operator (field operators are $eq, $ne, $gt, $gte, $lt, "
                           "$lte, $in, $nin, $exists)");
      }
      out->children.push_back(std::move(c));
    }
    return absl::OkStatus();
  }

  size_t terms_ = 0;
};

bool Evaluate(const FilterNode& node, const json& doc) {
  switch (node.kind) {
    case FilterNode::kAnd:
      for (const FilterNode& c : node.children) {
        if (!Evaluate(c, doc)) return false;
      }
      return true;
    case FilterNode::kOr:
      for (const FilterNode& c : node.children) {
        if (Evaluate(c, doc)) return true;
      }
      return false;
    case FilterNode::kNot:
      return !Evaluate(node.children[0], doc);
    case FilterNode::kCondition:
      break;
  }
  bool present = false;
  std::vector<const json*> values;
  CollectValues(doc, node.parts, &present, &values);
  auto any = [&](auto&& pred) {
    return std::any_of(values.begin(), values.end(), [&](const json* v) { return pred(*v); });
  };
  auto equals_any = [&](const std::vector<FilterScalar>& wanted) {
    return any([&](const json& v) {
      return std::any_of(wanted.begin(), wanted.end(),
                         [&](const FilterScalar& s) { return ScalarEquals(v, s); });
    });
  };
  const FilterScalar* operand = node.values.empty() ? nullptr : &node.values[0];
  switch (node.op) {
    case FilterNode::kEq: return equals_any(node.values);
    case FilterNode::kNe: return !equals_any(node.values);
    case FilterNode::kIn: return equals_any(node.values);
    case FilterNode::kNin: return !equals_any(node.values);
    case FilterNode::kExists: return present == node.exists;
    default:
      return any([&](const json& v) {
        const int c = ScalarCompare(v, *operand);
        if (c == kIncomparable) return false;
        switch (node.op) {
          case FilterNode::kGt: return c > 0;
          case FilterNode::kGte: return c >= 0;
          case FilterNode::kLt: return c < 0;
          default: return c <= 0;
        }
      });
  }
}

}  // namespace

absl::StatusOr<Filter> Filter::Parse(std::string_view text) {
  Filter f;
  if (text.empty()) return f;
  if (text.size() > kMaxBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("filter: ", text.size(), " bytes, over the limit of ", kMaxBytes));
  }
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return absl::InvalidArgumentError("filter: not valid JSON");
  if (!doc.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat("filter: expects an object, got ", TypeName(doc)));
  }
  if (doc.empty()) return f;
  Parser parser;
  auto root = parser.Object(doc, "filter");
  if (!root.ok()) return root.status();
  f.root_ = std::make_shared<const FilterNode>(*std::move(root));
  f.paths_ = std::move(parser.paths);
  f.canonical_ = doc.dump();
  return f;
}

bool Filter::Matches(std::string_view metadata) const {
  if (root_ == nullptr) return true;
  json doc = json::parse(metadata, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) return false;
  return Evaluate(*root_, doc);
}

}  // namespace proximadb
