//! `ordo bench state`: a chain whose genesis holds N funded accounts (and contracts with
//! storage), written through the storage layer by ingestion (`ordo_exec::write_bulk_genesis`),
//! fast enough for tens of millions of accounts; or the same allocation as a geth-style
//! genesis.json for `ordo run --genesis`.

use std::{io::Write, path::PathBuf, time::Instant};

use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use eyre::{Context, Result, bail};
use ordo_exec::BulkAccount;
use ordo_primitives::{ChainSpec, DEV_CHAIN_ID};

/// `ordo bench state` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct StateArgs {
    /// Funded accounts besides the dev accounts (1 ether each).
    #[arg(long, default_value_t = 1_000_000)]
    pub accounts: u64,
    /// Contracts with storage.
    #[arg(long, default_value_t = 100)]
    pub contracts: u64,
    /// Storage slots of each contract.
    #[arg(long, default_value_t = 1_000)]
    pub slots: u64,
    /// Chain id (the dev chain's by default, so `ordo dev --datadir DIR` runs it).
    #[arg(long, default_value_t = DEV_CHAIN_ID)]
    pub chain_id: u64,
    /// The node datadir to create (must not hold a chain yet).
    #[arg(long, required_unless_present = "genesis_json")]
    pub datadir: Option<PathBuf>,
    /// Write the allocation as a geth-style genesis.json instead of a datadir.
    #[arg(long)]
    pub genesis_json: Option<PathBuf>,
}

/// The address of large-state account `i` (the low 20 bytes of keccak256(i)).
pub fn state_address(i: u64) -> Address {
    Address::from_word(keccak256(i.to_be_bytes()))
}

/// The runtime code of the state's contracts: `SSTORE(CALLDATALOAD(0), CALLDATALOAD(32))`.
const SETTER: [u8; 8] = [0x60, 0x20, 0x35, 0x60, 0x00, 0x35, 0x55, 0x00];

/// Contract `c`'s address.
fn contract_address(c: u64) -> Address {
    Address::from_word(keccak256(
        [b"contract".as_slice(), &c.to_be_bytes()].concat(),
    ))
}

fn accounts(args: &StateArgs) -> impl Iterator<Item = BulkAccount> + '_ {
    let ether = U256::from(10u64).pow(U256::from(18));
    let eoas = (0..args.accounts).map(move |i| BulkAccount {
        address: state_address(i),
        balance: ether,
        ..Default::default()
    });
    let contracts = (0..args.contracts).map(move |c| BulkAccount {
        address: contract_address(c),
        code: Bytes::from_static(&SETTER),
        storage: (0..args.slots)
            .map(|s| (B256::from(U256::from(s)), U256::from(s + 1)))
            .collect(),
        ..Default::default()
    });
    eoas.chain(contracts)
}

/// Builds the state `args` asks for and prints what it wrote.
pub fn build_state(args: &StateArgs) -> Result<()> {
    let started = Instant::now();
    let spec = ChainSpec::dev(args.chain_id);
    if let Some(path) = &args.genesis_json {
        return write_genesis_json(args, &spec, path, started);
    }
    let Some(datadir) = &args.datadir else {
        bail!("--datadir or --genesis-json is required");
    };
    let db = datadir.join("db");
    std::fs::create_dir_all(&db).wrap_err_with(|| format!("creating {}", db.display()))?;
    let storage = ordo_storage::Storage::open(&db).wrap_err("opening storage")?;
    if storage.head()?.is_some() {
        bail!("{} already holds a chain", datadir.display());
    }
    let all: Vec<BulkAccount> = accounts(args).collect();
    let generated = started.elapsed();
    let block = ordo_exec::write_bulk_genesis(&storage, &spec, all)?;
    drop(storage);
    println!(
        "wrote {} accounts ({} contracts x {} slots) + the dev accounts into {} in {:.1} s \
         (generate {:.1} s)",
        args.accounts + args.contracts,
        args.contracts,
        args.slots,
        datadir.display(),
        started.elapsed().as_secs_f64(),
        generated.as_secs_f64(),
    );
    println!(
        "genesis {} state root {}; run it with: ordo dev --datadir {}",
        block.hash,
        block.header.state_root,
        datadir.display()
    );
    Ok(())
}

/// The same allocation as a geth genesis.json (streamed: the file is written as generated).
fn write_genesis_json(
    args: &StateArgs,
    spec: &ChainSpec,
    path: &PathBuf,
    started: Instant,
) -> Result<()> {
    let file =
        std::fs::File::create(path).wrap_err_with(|| format!("creating {}", path.display()))?;
    let mut out = std::io::BufWriter::new(file);
    write!(
        out,
        "{{\"config\":{{\"chainId\":{},\"ordo\":{{\"feeVaultRecipient\":\"{:#x}\"}}}},\
         \"gasLimit\":\"{:#x}\",\"baseFeePerGas\":\"{:#x}\",\"timestamp\":\"0x0\",\
         \"extraData\":\"0x\",\"difficulty\":\"0x0\",\"alloc\":{{",
        spec.chain_id, spec.fee_vault_recipient, spec.gas_limit, spec.genesis_base_fee
    )?;
    let mut first = true;
    let dev = spec.alloc.iter().map(|(address, a)| BulkAccount {
        address: *address,
        balance: a.balance,
        ..Default::default()
    });
    for account in dev.chain(accounts(args)) {
        if !first {
            out.write_all(b",")?;
        }
        first = false;
        write!(
            out,
            "\"{:#x}\":{{\"balance\":\"{:#x}\"",
            account.address, account.balance
        )?;
        if !account.code.is_empty() {
            write!(out, ",\"code\":\"{}\"", account.code)?;
            out.write_all(b",\"storage\":{")?;
            for (i, (slot, value)) in account.storage.iter().enumerate() {
                if i > 0 {
                    out.write_all(b",")?;
                }
                write!(out, "\"{slot}\":\"{}\"", B256::from(*value))?;
            }
            out.write_all(b"}")?;
        }
        out.write_all(b"}")?;
    }
    out.write_all(b"}}\n")?;
    out.flush()?;
    println!(
        "wrote {} in {:.1} s; run it with: ordo dev --genesis {}",
        path.display(),
        started.elapsed().as_secs_f64(),
        path.display()
    );
    Ok(())
}
