// GraphML export of an APD with the same node and link attributes as apd/1
// JSON, for Gephi, Cytoscape, igraph and networkx. Label histograms and the
// graph metadata are JSON strings; per-instance records are not exported.
#pragma once

#include "apd/core/diagram.hpp"
#include "apd/io/apd_json.hpp"

namespace apd {

void write_graphml(const Diagram& d, const Sink& sink);

}  // namespace apd
