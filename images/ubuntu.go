package images

// diskInfoPath is the Ubuntu (and Debian) media's disc description,
// written by debian-cd: `Ubuntu-Server 16.04.2 LTS "Xenial Xerus" -
// Release amd64 (20170215.8)`.
const diskInfoPath = ".disk/info"
