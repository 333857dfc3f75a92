#!/bin/sh
# Issue #19: one 16 x 9 (signed x unsigned) product in fabric, registered in and out, in Yosys synth_xilinx:
# multiplier_lut.v (Multipliers: lut) against Yosys' own mapping of a * b without DSPs (-nodsp).
#   sh benchmarks/rtl_lut_product_yosys.sh      (seconds)
set -e
D=$(mktemp -d); V=$(cd "$(dirname "$0")/.." && pwd)/garnet_hls/backends/rtl/verilog/multiplier_lut.v
cat > "$D/lut.v" <<'V'
module top(input clk, input [15:0] x, input [8:0] y, output reg [24:0] p);
  reg [15:0] xr; reg [8:0] yr; wire [24:0] w;
  multiplier_lut #(16, 9, 1, 0, 25) m (xr, yr, w);
  always @(posedge clk) begin xr <= x; yr <= y; p <= w; end
endmodule
V
cat > "$D/mul.v" <<'V'
module top(input clk, input [15:0] x, input [8:0] y, output reg [24:0] p);
  reg [15:0] xr; reg [8:0] yr;
  always @(posedge clk) begin xr <= x; yr <= y; p <= $signed(xr) * $signed({1'b0, yr}); end
endmodule
V
yosys -q -p "read_verilog $V $D/lut.v; synth_xilinx -family xcup -top top -flatten -noiopad -noclkbuf; tee -o $D/lut.txt stat"
yosys -q -p "read_verilog $D/mul.v; synth_xilinx -family xcup -top top -flatten -noiopad -noclkbuf -nodsp; tee -o $D/mul.txt stat"
for f in lut mul; do echo "$f: $(grep -E '^ +LUT[1-6] ' $D/$f.txt | awk '{s+=$2} END {print s}') LUT"; done
