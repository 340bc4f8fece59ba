module sluice.test/go-guests/raw-abi

go 1.24
