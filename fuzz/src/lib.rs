//! What the fuzz targets share: a node on a small chain running in the fuzzer's own process
//! ([`node`]), what every JSON-RPC answer must look like ([`jsonrpc`]), the shipped codecs
//! ([`codecs`]), and the seeds the targets start from ([`seeds`]).

pub mod codecs;
pub mod jsonrpc;
pub mod node;
pub mod seeds;
