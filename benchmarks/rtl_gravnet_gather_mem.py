"""Yosys of one lane's gather in the folded GravNet's new structure (issue #18): block 2 of ``gravnet_paper`` at
V=128, R=64 as ``convert`` writes it in the top (``fmem2``: 192 words of 512 bits, 3 event buffers x 64 groups,
2 lanes x 16 features x 16 bits; one write port; the lane's k = 8 registered read ports and 2:1 lane muxes).

    nice -n 10 python benchmarks/rtl_gravnet_gather_mem.py [--nobram]      # native Yosys 0.23

Prints Yosys's ``stat`` of ``synth_xilinx -family xcup -flatten`` (BRAM by default, LUTRAM with --nobram).
"""

import subprocess
import sys
import tempfile
from pathlib import Path


def gather_verilog(k=8, depth=192, word=512, lanes=2, addr_bits=8) -> str:
    per = word // lanes
    v = [f"module gather(input clk, input we, input [{addr_bits - 1}:0] waddr, input [{word - 1}:0] wdata,"]
    v += [f"  input [{addr_bits - 1}:0] ra{s}, input [{max(1, (lanes - 1).bit_length()) - 1}:0] rl{s}, "
          f"output [{per - 1}:0] q{s}{',' if s < k - 1 else ''}" for s in range(k)]
    v += [");", f"  reg [{word - 1}:0] mem [0:{depth - 1}];"]
    v += [f"  reg [{word - 1}:0] r{s}; reg [{max(1, (lanes - 1).bit_length()) - 1}:0] l{s};" for s in range(k)]
    v += ["  always @(posedge clk) begin", "    if (we) mem[waddr] <= wdata;"]
    v += [f"    r{s} <= mem[ra{s}]; l{s} <= rl{s};" for s in range(k)]
    v += ["  end"] + [f"  assign q{s} = r{s}[l{s} * {per} +: {per}];" for s in range(k)] + ["endmodule"]
    return "\n".join(v) + "\n"


def main(argv=None):
    nobram = "--nobram" in (argv if argv is not None else sys.argv[1:])
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "gather.v").write_text(gather_verilog())
        synth = "synth_xilinx -family xcup -flatten -top gather" + (" -nobram" if nobram else "")
        subprocess.run(["yosys", "-q", "-p", f"read_verilog gather.v; {synth}; tee -o stat.txt stat"], cwd=d,
                       check=True, capture_output=True)
        print((Path(d) / "stat.txt").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
