// SPDX-License-Identifier: MIT
pragma solidity 0.8.26;

/// @notice Created, called, made to revert and destroyed by TraceProbe in one transaction.
contract TraceChild {
    event Born(address parent, uint256 value);

    constructor() payable {
        emit Born(msg.sender, msg.value);
    }

    function ping(uint256 x) external pure returns (uint256) {
        return x * 2;
    }

    function fail(uint256 x) external pure {
        require(x == 0, "child says no");
    }

    function die(address payable to) external {
        selfdestruct(to);
    }
}

/// @title TraceProbe
/// @notice What the tracing tests trace: one call that creates a contract with value, calls it
///         (a static call), has a call of it revert and catches that, destroys it in the same
///         transaction, writes storage and logs; a loop that burns gas; a plain revert.
contract TraceProbe {
    event Probed(address indexed caller, uint256 value, uint256 doubled);

    uint256 public total;
    mapping(uint256 => uint256) public seen;

    function probe(uint256 x) external payable returns (uint256 doubled) {
        TraceChild child = new TraceChild{value: msg.value}();
        doubled = child.ping(x);
        try child.fail(x) {} catch {}
        child.die(payable(msg.sender));
        total += doubled;
        seen[x] = doubled;
        emit Probed(msg.sender, msg.value, doubled);
    }

    function burn(uint256 rounds) external returns (uint256 acc) {
        unchecked {
            for (uint256 i = 0; i < rounds; i++) {
                acc = acc * 31 + i;
            }
        }
        total = acc;
    }

    function boom() external pure {
        revert("boom");
    }
}
