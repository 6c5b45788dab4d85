module axtest/goserver

go 1.19
