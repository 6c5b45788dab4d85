module axtest/goclient

go 1.19
