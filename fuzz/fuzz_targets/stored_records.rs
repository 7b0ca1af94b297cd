//! What the node reads back from its datadir after a crash or from a damaged disk: block,
//! receipt, batch and bundle records, and the transaction and receipt envelopes inside them.
//! The first byte picks the record; any bytes are refused or decoded without a panic, and what
//! decodes re-encodes to bytes that decode the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ordo_primitives::{
    BatchRecord, BlockRecord, Bundle, OrdoReceiptEnvelope, OrdoTxEnvelope, ReceiptRecord,
    alloy_eips::eip2718::{Decodable2718, Encodable2718},
    alloy_rlp::{Decodable, Encodable},
};

fn rlp_round_trip<T: Decodable + Encodable + PartialEq + std::fmt::Debug>(mut bytes: &[u8]) {
    if let Ok(value) = T::decode(&mut bytes) {
        let mut out = Vec::new();
        value.encode(&mut out);
        let again = T::decode(&mut out.as_slice()).expect("a record re-decodes");
        assert_eq!(again, value);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, bytes)) = data.split_first() else {
        return;
    };
    match which % 6 {
        0 => rlp_round_trip::<BlockRecord>(bytes),
        1 => rlp_round_trip::<Vec<ReceiptRecord>>(bytes),
        2 => {
            if let Ok(record) = BatchRecord::decode(bytes) {
                let again = BatchRecord::decode(&record.encode()).expect("re-decodes");
                assert_eq!(again, record);
            }
        }
        3 => {
            if let Ok(bundle) = Bundle::decode_record(bytes) {
                let again = Bundle::decode_record(&bundle.encode_record()).expect("re-decodes");
                assert_eq!(again.encode_record(), bundle.encode_record());
            }
        }
        4 => {
            if let Ok(tx) = OrdoTxEnvelope::decode_2718(&mut &bytes[..]) {
                let again = OrdoTxEnvelope::decode_2718(&mut tx.encoded_2718().as_slice())
                    .expect("re-decodes");
                assert_eq!(again.encoded_2718(), tx.encoded_2718());
            }
        }
        _ => {
            if let Ok(receipt) = OrdoReceiptEnvelope::decode_2718(&mut &bytes[..]) {
                let again =
                    OrdoReceiptEnvelope::decode_2718(&mut receipt.encoded_2718().as_slice())
                        .expect("re-decodes");
                assert_eq!(again, receipt);
            }
        }
    }
});
